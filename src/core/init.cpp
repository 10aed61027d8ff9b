#include "linflow/init.hpp"

#include <cmath>
#include <filesystem>
#include <sstream>

#include "linflow/error.hpp"
#include "linflow/io.hpp"
#include "linflow/random.hpp"

namespace linflow {
namespace {

// Arora et al. 2018a balanced factorization (docs/theory.md §2): W_1 = R_1 S^{1/N} V_Aᵀ, W_j = R_j S^{1/N} R_{j−1}ᵀ,
// W_N = U_A S^{1/N} R_{N−1}ᵀ, with Haar-random orthonormal R_j ∈ R^{d_j×k}.
Eigen::VectorXd balanced_factorization(const Shape& shape, const Eigen::MatrixXd& A, std::mt19937_64& rng) {
  const int N = shape.depth();
  Eigen::BDCSVD<Eigen::MatrixXd> svd(A, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const double tol = 1e-14 * std::max(1.0, svd.singularValues().size() ? svd.singularValues()(0) : 0.0);
  int k = static_cast<int>((svd.singularValues().array() > tol).count());
  if (k > shape.min_width()) {
    std::ostringstream os;
    os << "init.end_to_end: rank " << k << " exceeds the narrowest width min_j d_j = " << shape.min_width();
    throw InputError(os.str());
  }
  k = std::max(k, 1);
  const Eigen::VectorXd root = svd.singularValues().head(k).array().pow(1.0 / N).matrix();
  Eigen::VectorXd theta(shape.size());
  if (N == 1) {
    shape.mutable_layer(theta, 1) = A;
    return theta;
  }
  std::vector<Eigen::MatrixXd> R(static_cast<size_t>(N + 1));
  R[0] = svd.matrixV().leftCols(k);
  R[static_cast<size_t>(N)] = svd.matrixU().leftCols(k);
  for (int j = 1; j < N; ++j) R[static_cast<size_t>(j)] = random_orthonormal(shape.width(j), k, rng);
  for (int j = 1; j <= N; ++j) {
    shape.mutable_layer(theta, j) =
        R[static_cast<size_t>(j)] * root.asDiagonal() * R[static_cast<size_t>(j - 1)].transpose();
  }
  return theta;
}

Eigen::MatrixXd balanced_target(const Shape& shape, const InitOptions& o, std::mt19937_64& rng) {
  const int dN = shape.width(shape.depth());
  const int d0 = shape.width(0);
  if (o.end_to_end) {
    if (o.end_to_end->rows() != dN || o.end_to_end->cols() != d0) {
      std::ostringstream os;
      os << "init.end_to_end: shape " << o.end_to_end->rows() << "x" << o.end_to_end->cols() << ", expected " << dN
         << "x" << d0 << " (d_N x d_0)";
      throw InputError(os.str());
    }
    return *o.end_to_end;
  }
  const int k = o.rank > 0 ? std::min(o.rank, shape.min_width()) : shape.min_width();
  Eigen::MatrixXd A = gaussian_matrix(dN, k, rng) * gaussian_matrix(k, d0, rng);
  const double norm = A.norm();
  return norm > 0 ? Eigen::MatrixXd(A * (o.scale / norm)) : A;
}

Eigen::VectorXd unit_or_random(const std::optional<Eigen::VectorXd>& given, int n, const char* key,
                               std::mt19937_64& rng) {
  if (!given) return random_unit_vector(n, rng);
  if (given->size() != n) {
    std::ostringstream os;
    os << "init." << key << ": length " << given->size() << ", expected " << n;
    throw InputError(os.str());
  }
  const double norm = given->norm();
  if (!(norm > 0) || !given->allFinite()) throw InputError(std::string("init.") + key + ": must be finite and nonzero");
  return *given / norm;
}

}  // namespace

const char* to_string(InitKind kind) {
  switch (kind) {
    case InitKind::balanced:
      return "balanced";
    case InitKind::balanced_rank1:
      return "balanced_rank1";
    case InitKind::gaussian:
      return "gaussian";
    case InitKind::orthogonal:
      return "orthogonal";
    case InitKind::perturbed_balanced:
      return "perturbed_balanced";
    case InitKind::files:
      return "files";
    case InitKind::spectral:
      return "spectral";
  }
  return "?";
}

InitKind init_kind_from_string(const std::string& name) {
  for (auto k : {InitKind::balanced, InitKind::balanced_rank1, InitKind::gaussian, InitKind::orthogonal,
                 InitKind::perturbed_balanced, InitKind::files, InitKind::spectral}) {
    if (name == to_string(k)) return k;
  }
  throw InputError(
      "init.kind: unknown kind '" + name +
      "' (expected balanced, balanced_rank1, gaussian, orthogonal, perturbed_balanced, files or spectral)");
}

bool InitOptions::is_valid(std::string* why) const {
  auto bad = [&](const char* msg) {
    if (why) *why = msg;
    return false;
  };
  if (!(scale >= 0) || !std::isfinite(scale)) return bad("init.scale: must be finite and ≥ 0");
  if (!(sigma0 > 0) || !std::isfinite(sigma0)) return bad("init.sigma0: must be finite and > 0");
  if (!(delta >= 0) || !std::isfinite(delta)) return bad("init.delta: must be finite and ≥ 0");
  if (rank < 0) return bad("init.rank: must be ≥ 0");
  if (kind == InitKind::files && dir.empty() && weights.empty())
    return bad("init.dir: required when init.kind = \"files\"");
  if (modes && (!modes->allFinite() || (modes->array() < 0).any()))
    return bad("init.modes: every entry must be finite and ≥ 0");
  return true;
}

std::string weights_file_name(int j) { return "W" + std::to_string(j) + ".npy"; }

Eigen::VectorXd initialize(const Shape& shape, const InitOptions& o) {
  std::string why;
  if (!o.is_valid(&why)) throw InputError(why);
  std::mt19937_64 rng(o.seed);
  const int N = shape.depth();
  Eigen::VectorXd theta(shape.size());
  switch (o.kind) {
    case InitKind::balanced:
      return balanced_factorization(shape, balanced_target(shape, o, rng), rng);
    case InitKind::perturbed_balanced: {
      theta = balanced_factorization(shape, balanced_target(shape, o, rng), rng);
      for (int j = 1; j <= N; ++j) {
        const Eigen::MatrixXd P = gaussian_matrix(shape.width(j), shape.width(j - 1), rng);
        shape.mutable_layer(theta, j) += (o.delta / P.norm()) * P;
      }
      return theta;
    }
    case InitKind::balanced_rank1: {
      std::vector<Eigen::VectorXd> a(static_cast<size_t>(N + 1));
      a[0] = unit_or_random(o.v0, shape.width(0), "v0", rng);
      a[static_cast<size_t>(N)] = unit_or_random(o.u0, shape.width(N), "u0", rng);
      for (int j = 1; j < N; ++j) a[static_cast<size_t>(j)] = random_unit_vector(shape.width(j), rng);
      const double root = std::pow(o.sigma0, 1.0 / N);
      for (int j = 1; j <= N; ++j) {
        shape.mutable_layer(theta, j) = root * a[static_cast<size_t>(j)] * a[static_cast<size_t>(j - 1)].transpose();
      }
      return theta;
    }
    case InitKind::gaussian:
      for (int j = 1; j <= N; ++j)
        shape.mutable_layer(theta, j) = o.scale * gaussian_matrix(shape.width(j), shape.width(j - 1), rng);
      return theta;
    case InitKind::orthogonal:
      for (int j = 1; j <= N; ++j) {
        const int r = shape.width(j), c = shape.width(j - 1);
        shape.mutable_layer(theta, j) = r >= c ? Eigen::MatrixXd(o.scale * random_orthonormal(r, c, rng))
                                               : Eigen::MatrixXd(o.scale * random_orthonormal(c, r, rng).transpose());
      }
      return theta;
    case InitKind::files: {
      const bool in_memory = !o.weights.empty();
      if (in_memory && o.weights.size() != static_cast<size_t>(N)) {
        throw InputError("init.weights: " + std::to_string(o.weights.size()) + " matrices, but network.widths has " +
                         std::to_string(N) + " layers");
      }
      for (int j = 1; j <= N; ++j) {
        // In memory, the name a message gives is the array's place in the list, as the file's path is otherwise.
        const std::string name = in_memory
                                     ? "init.weights[" + std::to_string(j - 1) + "] (W" + std::to_string(j) + ", array)"
                                     : (std::filesystem::path(o.dir) / weights_file_name(j)).string();
        const Eigen::MatrixXd W = in_memory ? o.weights[static_cast<size_t>(j - 1)] : read_npy(name);
        if (W.rows() != shape.width(j) || W.cols() != shape.width(j - 1)) {
          std::ostringstream os;
          os << name << ": shape " << W.rows() << "x" << W.cols() << ", expected " << shape.width(j) << "x"
             << shape.width(j - 1) << " (d_" << j << " x d_" << j - 1 << ")";
          throw InputError(os.str());
        }
        if (in_memory && !W.allFinite()) throw InputError(name + ": contains NaN or Inf");
        shape.mutable_layer(theta, j) = W;
      }
      return theta;
    }
    case InitKind::spectral:
      throw InputError("init.kind = \"spectral\" needs the target's singular vectors (initialize with the problem)");
  }
  return theta;
}

Eigen::VectorXd initialize(const Problem& problem, const Shape& shape, const InitOptions& o) {
  if (o.kind != InitKind::spectral) return initialize(shape, o);
  std::string why;
  if (!o.is_valid(&why)) throw InputError(why);
  if (shape.width(0) != problem.input_dim() || shape.width(shape.depth()) != problem.output_dim())
    throw InputError("init.kind = \"spectral\": the network's d_0, d_N do not match the problem");
  const int n = std::min(shape.min_width(), problem.target_rank());
  Eigen::VectorXd sigma = Eigen::VectorXd::Constant(n, o.scale);
  if (o.modes) {
    if (o.modes->size() > n) {
      std::ostringstream os;
      os << "init.modes: " << o.modes->size() << " entries, but there are only min(min_j d_j, rank Q) = " << n
         << " modes";
      throw InputError(os.str());
    }
    sigma = Eigen::VectorXd::Zero(n);
    sigma.head(o.modes->size()) = *o.modes;
  }
  // W Σ^{1/2} = U diag(σ) Vᵀ; the hidden bases are random, as for `balanced`.
  InitOptions balanced = o;
  balanced.kind = InitKind::balanced;
  const Eigen::MatrixXd aligned = problem.u().leftCols(n) * sigma.asDiagonal() * problem.v().leftCols(n).transpose();
  balanced.end_to_end = problem.whitened() ? aligned : Eigen::MatrixXd(aligned * problem.sigma_sqrt().inverse());
  return initialize(shape, balanced);
}

}  // namespace linflow
