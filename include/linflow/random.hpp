#pragma once
// Random matrices for targets and initializations. Every draw comes from the engine passed in, so a run's
// randomness is fixed by its seeds alone (a sweep derives run k's seeds from the base seed and k).
#include <Eigen/Dense>
#include <random>

namespace linflow {

/// A rows × cols matrix of i.i.d. standard normal entries, drawn column by column from `rng`.
Eigen::MatrixXd gaussian_matrix(int rows, int cols, std::mt19937_64& rng);
/// A Haar-random matrix with orthonormal columns (rows × cols, cols ≤ rows), drawn from `rng`.
Eigen::MatrixXd random_orthonormal(int rows, int cols, std::mt19937_64& rng);
/// A uniformly random unit vector in R^n.
Eigen::VectorXd random_unit_vector(int n, std::mt19937_64& rng);

}  // namespace linflow
