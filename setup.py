"""pip installer of the Python module `linflow` (python/): `python3 -m pip install --no-build-isolation --no-index .`

Works offline with Debian's pip and setuptools (inside a venv made with --system-site-packages, since Debian's
Python is externally managed). The extension is built by CMake, as in a normal build: the target `_linflow` in
LINFLOW_CMAKE_BUILD_DIR when set (an existing build tree: nothing is rebuilt that is up to date), else in
build-pip/ next to this file (configured with only the library and the module). The pure-Python package comes
from python/linflow, the built-in experiments' sweep files from experiments/.
"""
import glob
import os
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

ROOT = os.path.dirname(os.path.abspath(__file__))


def version():
    with open(os.path.join(ROOT, "CMakeLists.txt"), encoding="utf-8") as f:
        return re.search(r"project\(linflow VERSION ([0-9.]+)", f.read()).group(1)


class CMakeBuild(build_ext):
    """Builds linflow._linflow with CMake and copies it where setuptools expects the extension."""

    def build_extension(self, ext):
        build_dir = os.environ.get("LINFLOW_CMAKE_BUILD_DIR") or os.path.join(ROOT, "build-pip")
        if not os.path.isfile(os.path.join(build_dir, "CMakeCache.txt")):
            subprocess.check_call([
                "cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release", "-DLINFLOW_BUILD_TESTS=OFF",
                "-DLINFLOW_BUILD_BENCHMARKS=OFF", "-DLINFLOW_BUILD_CLI=OFF", "-DLINFLOW_INSTALL=OFF",
                "-DLINFLOW_BUILD_PYTHON=ON", f"-DPython_EXECUTABLE={sys.executable}"])
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 1)
        subprocess.check_call(["cmake", "--build", build_dir, "--target", "_linflow", "-j", jobs])
        built = glob.glob(os.path.join(build_dir, "python", "linflow", "_linflow*.so"))
        if not built:
            raise RuntimeError(f"CMake built no _linflow*.so in {build_dir}/python/linflow")
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(built[0], target)


class BuildPy(build_py):
    """Adds the built-in experiments' sweep files (experiments/*.toml) to the package."""

    def run(self):
        super().run()
        dest = os.path.join(self.build_lib, "linflow", "experiments")
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(os.path.join(ROOT, "experiments"), dest)


setup(
    name="linflow",
    version=version(),
    description="Training dynamics of deep linear networks: exact gradient flow and descent, and the theory",
    package_dir={"": "python"},
    packages=["linflow"],
    package_data={"linflow": ["py.typed", "*.pyi"]},
    ext_modules=[Extension("linflow._linflow", sources=[])],
    cmdclass={"build_ext": CMakeBuild, "build_py": BuildPy},
    options={"build": {"build_base": "build-setuptools"}},
    python_requires=">=3.9",
    install_requires=["numpy"],
    zip_safe=False,
)
