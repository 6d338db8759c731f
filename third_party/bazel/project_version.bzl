"""The project's version, read from the top-level CMakeLists.txt.

`project(pvmd VERSION x.y.z ...)` there is the one place the version is written; this
repository rule re-reads it whenever that file changes, so the Bazel-built pvmd and
pvmctl report the same --version as the CMake-built ones.
"""

def _pvm_version_impl(ctx):
    cmake = ctx.read(ctx.path(Label("//:CMakeLists.txt")))
    marker = "project(pvmd VERSION "
    start = cmake.find(marker)
    if start < 0:
        fail("CMakeLists.txt: no '%s...' line to take the version from" % marker)
    version = cmake[start + len(marker):].split(")")[0].strip().split(" ")[0].strip()
    ctx.file("BUILD.bazel", "")
    ctx.file("version.bzl", 'PVMD_VERSION = "%s"\n' % version)

pvm_version_repository = repository_rule(
    implementation = _pvm_version_impl,
)
