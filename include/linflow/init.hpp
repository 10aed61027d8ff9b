#pragma once
// Initializations of the layer weights. Every random draw comes from the engine seeded by `seed`.
#include <Eigen/Dense>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "linflow/network.hpp"
#include "linflow/problem.hpp"
#include "linflow/random.hpp"

namespace linflow {

enum class InitKind {
  balanced,        ///< Arora et al. 2018a construction (docs/theory.md §2 [published]) from an end-to-end matrix
  balanced_rank1,  ///< W_j = σ0^{1/N} a_j a_{j−1}ᵀ, a_0 = v0, a_N = u0 (docs/theory.md §2 [proved]); for stable sets
  gaussian,        ///< i.i.d. N(0, scale²) entries in every layer
  orthogonal,      ///< scale × a Haar-random partial isometry in every layer
  perturbed_balanced,  ///< `balanced` plus, in every layer, a random Gaussian matrix of Frobenius norm `delta`
  files,               ///< W1.npy … WN.npy from `dir`
  /// `balanced` from W(0) Σ^{1/2} = Σ_a σ_a(0) u_a v_aᵀ, the singular vectors of the target Q (docs/theory.md §10,
  /// the aligned start of Saxe et al. 2014): the modes decouple under gradient flow. Needs the problem.
  spectral,
};
const char* to_string(InitKind kind);
/// Throws InputError naming the valid kinds.
InitKind init_kind_from_string(const std::string& name);

struct InitOptions {
  InitKind kind = InitKind::balanced_rank1;
  /// Seed of the engine for every random draw of the initialization.
  unsigned long long seed = 1;
  /// gaussian: entry standard deviation; orthogonal: singular value of every layer; balanced and
  /// perturbed_balanced without `end_to_end`: Frobenius norm of the random end-to-end matrix. Must be ≥ 0.
  double scale = 0.1;
  /// balanced, perturbed_balanced: rank of the random end-to-end matrix (0 = min_j d_j).
  int rank = 0;
  /// balanced, perturbed_balanced: a given end-to-end matrix (d_N × d_0) instead of a random one; its rank must
  /// not exceed min_j d_j.
  std::optional<Eigen::MatrixXd> end_to_end;
  /// balanced_rank1: σ0 > 0 and the unit directions (normalised here); random when absent.
  double sigma0 = 0.1;
  std::optional<Eigen::VectorXd> u0;  ///< in R^{d_N}
  std::optional<Eigen::VectorXd> v0;  ///< in R^{d_0}
  /// spectral: the initial value σ_a(0) ≥ 0 of each mode a = 1, 2, … (at most min(min_j d_j, rank Q) of them; a
  /// zero mode stays zero). When absent, every one of the min(min_j d_j, rank Q) modes starts at `scale`.
  std::optional<Eigen::VectorXd> modes;
  /// perturbed_balanced: Frobenius norm of the perturbation of each layer. Must be ≥ 0.
  double delta = 1e-2;
  /// files: directory holding W1.npy … WN.npy.
  std::string dir;
  /// files: the layers [W1, …, WN] in memory instead of `dir`'s files (ConfigMatrices::init_weights); one per layer,
  /// W_j of shape d_j × d_{j−1}, finite. Messages name them "init.weights[j-1] (Wj, array)".
  std::vector<Eigen::MatrixXd> weights;

  bool is_valid(std::string* why) const;
};

/// "Wj.npy": the file of layer j in a weights directory (what a run writes into DIR/weights/, what kind = files
/// reads from `dir`).
std::string weights_file_name(int j);

/// The parameter vector of `shape` initialised as `options` says. Throws InputError on bad options or files, and for
/// kind = spectral, which needs the problem (the overload below).
Eigen::VectorXd initialize(const Shape& shape, const InitOptions& options);
/// As above; kind = spectral reads the singular vectors of `problem`'s target Q (every other kind ignores it).
/// Throws InputError when the shape does not match the problem or `modes` has more entries than there are modes.
Eigen::VectorXd initialize(const Problem& problem, const Shape& shape, const InitOptions& options);

}  // namespace linflow
