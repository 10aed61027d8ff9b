// Run configuration: defaults, overrides, and every kind of bad key or value rejected with a message naming it.
#include <gtest/gtest.h>

#include <filesystem>
#include <limits>

#include "linflow/config.hpp"
#include "linflow/error.hpp"
#include "linflow/init.hpp"
#include "linflow/io.hpp"
#include "linflow/json.hpp"

namespace linflow {
namespace {

std::string error_of(const std::string& toml, const std::vector<std::string>& overrides = {}) {
  try {
    parse_config(toml, ".", overrides, "test.toml");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, EmptyFileGivesDocumentedDefaults) {
  const RunConfig c = parse_config("", ".");
  EXPECT_EQ(c.widths, (std::vector<int>{6, 4, 1, 4, 5}));
  EXPECT_EQ(c.solver.method, Method::gf);
  EXPECT_EQ(c.init.kind, InitKind::balanced_rank1);
  EXPECT_DOUBLE_EQ(c.solver.eps, 1e-12);
  EXPECT_TRUE(c.output.save_weights);
}

TEST(Config, OverridesUseTomlSyntaxAndBareWords) {
  const RunConfig c = parse_config("[solver]\nrtol = 1e-6\n", ".",
                                   {"solver.rtol=1e-9", "solver.method=gd", "network.widths=[2, 1, 2]",
                                    "init.u0=[1.0, 0.0]", "output.save_weights=false"});
  EXPECT_DOUBLE_EQ(c.solver.rtol, 1e-9);
  EXPECT_EQ(c.solver.method, Method::gd);
  EXPECT_EQ(c.widths, (std::vector<int>{2, 1, 2}));
  ASSERT_TRUE(c.init.u0.has_value());
  EXPECT_EQ(c.init.u0->size(), 2);
  EXPECT_FALSE(c.output.save_weights);
}

TEST(Config, UnknownKeysGetADidYouMean) {
  EXPECT_NE(error_of("[solver]\nrtoll = 1e-8\n").find("unknown key solver.rtoll (did you mean 'rtol'?)"),
            std::string::npos);
  EXPECT_NE(error_of("[solvr]\n").find("unknown section [solvr] (did you mean 'solver'?)"), std::string::npos);
  EXPECT_NE(error_of("[init]\nwidths = [1, 2]\n").find("it belongs in [network]"), std::string::npos);
  EXPECT_NE(error_of("", {"solver.tmax=3"}).find("did you mean 't_max'"), std::string::npos);
}

TEST(Config, RejectsBadValuesNamingTheKey) {
  EXPECT_NE(error_of("[solver]\nrtol = -1.0\n").find("solver.rtol"), std::string::npos);
  EXPECT_NE(error_of("[solver]\natol = 0.0\n").find("solver.atol"), std::string::npos);
  EXPECT_NE(error_of("[solver]\nmax_steps = 0\n").find("solver.max_steps"), std::string::npos);
  EXPECT_NE(error_of("[solver]\nlr = 0.0\n").find("solver.lr"), std::string::npos);
  EXPECT_NE(error_of("[solver]\nbalance_tol = inf\n").find("solver.balance_tol: must be finite"), std::string::npos);
  EXPECT_NE(error_of("[solver]\nsteps = -3\n").find("solver.steps"), std::string::npos);
  EXPECT_NE(error_of("[solver]\nrtol = \"tight\"\n").find("solver.rtol: expected a number"), std::string::npos);
  EXPECT_NE(error_of("[solver]\nmethod = \"newton\"\n").find("solver.method: unknown method 'newton'"),
            std::string::npos);
  EXPECT_NE(error_of("[init]\nkind = \"zeros\"\n").find("init.kind"), std::string::npos);
  EXPECT_NE(error_of("[network]\nwidths = [3]\n").find("network.widths"), std::string::npos);
  EXPECT_NE(error_of("[network]\nwidths = [3, 0, 2]\n").find("d_1 = 0"), std::string::npos);
  // Integers that do not fit are refused, not wrapped (4294967299 = 2^32 + 3 was read as 3).
  EXPECT_NE(error_of("[network]\nwidths = [4294967299, 2, 1, 3]\n").find("network.widths: 4294967299 is out of range"),
            std::string::npos);
  EXPECT_NE(error_of("[problem]\ndims = [4, -4294967295]\n").find("problem.dims"), std::string::npos);
  EXPECT_NE(error_of("[init]\nrank = 2147483648\n").find("init.rank: 2147483648 is out of range"), std::string::npos);
  EXPECT_NE(error_of("[problem]\nx = \"a.npy\"\n").find("problem.x and problem.y"), std::string::npos);
  EXPECT_NE(error_of("[solver\n").find("test.toml:1"), std::string::npos);
  EXPECT_NE(error_of("", {"solver.rtol"}).find("expected section.key=value"), std::string::npos);
  // TOML reads a multi-line value's first line only: refused rather than silently cut.
  EXPECT_NE(error_of("", {"solver.rtol=1e-9\nsolver.atol=1"}).find("the value spans several lines"), std::string::npos);
  EXPECT_NE(error_of("[solver]\nmethod = \"gd\"\nlr = 2.0\nt_max = 1.0\n").find("exceeds solver.t_max"),
            std::string::npos);
}

// A template parsed once gives, for any overrides, what parsing the text with those overrides gives.
TEST(Config, TemplateInstantiatesLikeAFreshParse) {
  const std::string text = "[init]\nsigma0 = 0.2\n[solver]\neps = 1e-9\n";
  const ConfigTemplate base = ConfigTemplate::parse(text, ".", "t.toml");
  for (const std::vector<std::string>& overrides :
       {std::vector<std::string>{}, {"init.sigma0=0.5"}, {"solver.method=gd", "solver.lr=0.01"}}) {
    EXPECT_EQ(to_json(base.instantiate(overrides)), to_json(parse_config(text, ".", overrides, "t.toml")));
  }
  EXPECT_EQ(base.instantiate().init.sigma0, 0.2);  // the overrides above edited copies
  EXPECT_EQ(base.origin(), "t.toml");
}

TEST(Config, EchoesEveryKeyAsJson) {
  const RunConfig c = parse_config("[solver]\nmethod = \"gd\"\nlr = 0.5\n", ".");
  const auto j = to_json(c);
  EXPECT_EQ(j["solver"]["method"], "gd");
  EXPECT_EQ(j["solver"]["lr"], 0.5);
  EXPECT_EQ(j["network"]["widths"].size(), 5u);
  EXPECT_TRUE(j["init"].contains("sigma0"));
  // The echo parses back to the same run (JSON → TOML is a test of its own elsewhere; here: key coverage).
  for (const auto& section : {"problem", "network", "init", "solver", "output"}) EXPECT_TRUE(j.contains(section));
}

TEST(Config, ProblemShapeMustMatchTheNetwork) {
  RunConfig c = parse_config("[network]\nwidths = [4, 1, 3]\n", ".");
  c.problem.target = std::string(LINFLOW_TEST_DATA) + "/target_3x4.csv";
  EXPECT_NO_THROW(make_problem(c));
  c.widths = {3, 1, 4};
  try {
    make_problem(c);
    ADD_FAILURE() << "mismatched widths accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("network.widths has d_0 = 3"), std::string::npos) << e.what();
  }
}

// fuzz_config's finding (fuzz/corpus/config/json-number-overflow): a JSON number beyond double's range threw
// nlohmann's out_of_range through the loader (a crash); it is bad input, named in one line.
TEST(Config, JsonNumberBeyondTheRangeOfADoubleIsBadInput) {
  try {
    parse_config(R"({"config": {"init": {"sigma0": 1e500000000000}}})", ".", {}, "run.json");
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("run.json: a JSON number beyond the range of a double"), std::string::npos)
        << e.what();
  }
}

TEST(Config, SummaryJsonIsAConfigThatRepeatsTheRun) {
  const RunConfig c = parse_config(R"(
[problem]
singular_values = [2.5, 0.75]
seed = 9
layout = "rows"
header = false
delimiter = ";"
[network]
widths = [3, 2, 1, 3]
[init]
u0 = [1.0, 0.5, 0.25]
sigma0 = 0.0123456789012345678
[solver]
method = "gd"
lr = 0.1234567890123456789
steps = 77
stop_at_eps = false
[output]
save_weights = false
)",
                                   ".");
  const nlohmann::json summary = {{"status", "converged"}, {"config", to_json(c)}};
  // Every value, doubles to the last bit, comes back; so does a config written as a bare JSON object.
  EXPECT_EQ(to_json(ConfigTemplate::parse(summary.dump(2), "/elsewhere", "summary.json").instantiate()), to_json(c));
  EXPECT_EQ(to_json(parse_config(to_json(c).dump(), ".")), to_json(c));
  EXPECT_NE(error_of(R"({"solver": {"rtoll": 1e-8}})").find("unknown key solver.rtoll"), std::string::npos);
  EXPECT_NE(error_of("{\"solver\": ").find("test.toml: not valid JSON at byte"), std::string::npos);
}

TEST(Config, SetPathsResolveAgainstTheirOwnDirectory) {
  const ConfigTemplate t = ConfigTemplate::parse("[problem]\nx = \"x.npy\"\ny = \"/abs/y.npy\"\n", "/base", "c.toml");
  // The file's paths against the file's folder; an override's against the folder it is given for (the current one
  // for --set), or the file's when none is (a sweep's axes).
  EXPECT_EQ(t.instantiate().problem.x, "/base/x.npy");
  EXPECT_EQ(ConfigTemplate::parse("", "/base").instantiate({"problem.target=t.csv"}, "/cwd").problem.target,
            "/cwd/t.csv");
  EXPECT_EQ(t.instantiate({"init.dir=run/weights"}, "/cwd").init.dir, "/cwd/run/weights");
  EXPECT_EQ(t.instantiate({"problem.y=d/y.npz:Y"}, "/cwd").problem.y, "/cwd/d/y.npz:Y");
  EXPECT_EQ(t.instantiate({"problem.y=d/y.npy"}).problem.y, "/base/d/y.npy");
  EXPECT_EQ(t.instantiate({"problem.y=/abs/z.npy"}, "/cwd").problem.y, "/abs/z.npy");
}

TEST(Config, DataLayoutAndCsvKeys) {
  const RunConfig c = parse_config("", ".", {"problem.layout=rows", "problem.header=true", "problem.delimiter=tab"});
  EXPECT_EQ(c.problem.layout, DataLayout::rows);
  EXPECT_EQ(c.problem.csv.header, CsvHeader::present);
  EXPECT_EQ(c.problem.csv.delimiter, CsvDelimiter::tab);
  EXPECT_EQ(parse_config("", ".", {"problem.header=auto"}).problem.csv.header, CsvHeader::auto_detect);
  EXPECT_NE(error_of("", {"problem.layout=samples"}).find("problem.layout: 'samples' is not"), std::string::npos);
  EXPECT_NE(error_of("", {"problem.header=1"}).find("problem.header: expected \"auto\", true or false"),
            std::string::npos);
  EXPECT_NE(error_of("", {"problem.delimiter=|"}).find("problem.delimiter: '|'"), std::string::npos);
}

TEST(Config, SamplesAsRowsAreReadAndATransposedShapeNamesTheSetting) {
  const std::string data = LINFLOW_TEST_DATA;
  RunConfig columns = parse_config("[network]\nwidths = [4, 2, 3]\n", ".");
  columns.problem.x = data + "/x_4x12.npy";
  columns.problem.y = data + "/y_3x12.npy";
  const Problem expected = make_problem(columns);
  RunConfig rows = columns;
  rows.problem.layout = DataLayout::rows;
  rows.problem.x = data + "/x_rows_pandas_index.csv";
  rows.problem.y = data + "/xy_rows.npz:Y";
  ReadNotes notes;
  const Problem p = make_problem(rows, &notes);
  EXPECT_EQ(p.sigma(), expected.sigma());
  EXPECT_EQ(p.cross(), expected.cross());
  EXPECT_EQ(notes.size(), 2u);  // the header and the index column of the pandas file
  // The same files read as columns: 12 "features" against d_0 = 4, and the hint to read them as rows.
  RunConfig wrong = rows;
  wrong.problem.layout = DataLayout::columns;
  try {
    make_problem(wrong);
    ADD_FAILURE() << "samples as rows read as columns";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("the files hold samples as rows: set problem.layout = \"rows\""),
              std::string::npos)
        << e.what();
  }
  columns.problem.layout = DataLayout::rows;
  try {
    make_problem(columns);
    ADD_FAILURE() << "samples as columns read as rows";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("set problem.layout = \"columns\""), std::string::npos) << e.what();
  }
}

TEST(Config, InMemoryMatricesAreReadAsTheirFilesAre) {
  const std::string data = LINFLOW_TEST_DATA;
  const ConfigTemplate t = ConfigTemplate::parse("[network]\nwidths = [4, 2, 1, 3]\n", ".");
  const RunConfig from_files =
      t.instantiate({"problem.x=" + data + "/x_4x12.npy", "problem.y=" + data + "/y_3x12.npy"});
  ConfigMatrices m;
  m.x = read_npy(data + "/x_4x12.npy");
  m.y = read_npy(data + "/y_3x12.npy");
  // A key given in memory wins over the file the text names for it.
  const RunConfig in_memory = t.instantiate({"problem.x=elsewhere.npy"}, "", m);
  EXPECT_EQ(in_memory.problem.x, kArrayLabel);
  EXPECT_EQ(to_json(in_memory)["problem"]["y"], kArrayLabel);
  const Problem expected = make_problem(from_files);
  const Problem p = make_problem(in_memory);
  EXPECT_EQ(p.sigma(), expected.sigma());
  EXPECT_EQ(p.cross(), expected.cross());
  EXPECT_EQ(p.q(), expected.q());
  // Checked as files are, the message naming the key.
  m.x->coeffRef(1, 2) = std::numeric_limits<double>::quiet_NaN();
  try {
    make_problem(t.instantiate({}, "", m));
    ADD_FAILURE() << "NaN in an in-memory X";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "problem.x (array): contains NaN or Inf");
  }
  ConfigMatrices target;
  target.target = Eigen::MatrixXd::Ones(3, 4);
  target.x = Eigen::MatrixXd::Ones(4, 12);
  EXPECT_THROW(t.instantiate({}, "", target), InputError);  // target excludes x/y, as for files
  // The initial layers: one per layer, each of its layer's shape.
  ConfigMatrices weights;
  weights.init_weights = {Eigen::MatrixXd::Ones(2, 4), Eigen::MatrixXd::Ones(1, 2), Eigen::MatrixXd::Ones(3, 1)};
  const RunConfig w = t.instantiate({"init.kind=files"}, "", weights);
  const Eigen::VectorXd theta = initialize(Shape(w.widths), w.init);
  EXPECT_EQ(theta, Eigen::VectorXd::Ones(theta.size()));
  weights.init_weights.pop_back();
  try {
    const RunConfig short_list = t.instantiate({"init.kind=files"}, "", weights);
    initialize(Shape(short_list.widths), short_list.init);
    ADD_FAILURE() << "two layers for a network of three";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "init.weights: 2 matrices, but network.widths has 3 layers");
  }
}

TEST(Config, AJsonObjectOfSectionsIsReadAsTheSameToml) {
  const nlohmann::json sections = {{"network", {{"widths", {4, 2, 1, 3}}}},
                                   {"solver", {{"eps", 1e-8}, {"max_steps", 1000}}},
                                   {"problem", {{"target", "t.npy"}}}};
  const RunConfig a = config_from_json(sections, "/base").instantiate();
  const RunConfig b = parse_config(
      "[network]\nwidths = [4, 2, 1, 3]\n[solver]\neps = 1e-8\nmax_steps = 1000\n[problem]\ntarget = \"t.npy\"\n",
      "/base");
  EXPECT_EQ(to_json(a), to_json(b));
  EXPECT_THROW(config_from_json(nlohmann::json::array(), "."), InputError);
}

}  // namespace
}  // namespace linflow
