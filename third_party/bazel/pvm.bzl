"""Macros shared by the project's BUILD files: CMake's target conventions, once.

CMake (the primary build) and Bazel build the same sources with the same flags:
PVM_WARNINGS is CMakeLists.txt's PVMD_WARNINGS, C++20 comes from .bazelrc, and a
pvm_cc_test is tests/CMakeLists.txt's pvm_add_test (gtest + gmock + gtest_main and
tests/support). Built-in guest images are runfiles: PVM_GUEST_BUILD_DIR is the
runfiles-relative "guests", which is where `bazel test` and `bazel run` start a
program (its runfiles tree, with guests/*.elf in it when //guests:images is data).
"""

load("@pvm_version//:version.bzl", _PVMD_VERSION = "PVMD_VERSION")

PVMD_VERSION = _PVMD_VERSION

# Warnings are errors in the project's own code (CMakeLists.txt: PVMD_WARNINGS).
PVM_WARNINGS = [
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wno-missing-field-initializers",
]

# C targets: CMake's C_STANDARD 11; C_EXTENSIONS OFF gives -std=c11, ON gnu11.
PVM_C11 = ["-std=c11"]
PVM_GNU11 = ["-std=gnu11"]

# What programs that load built-in guests are compiled with, and need at run time.
PVM_GUEST_DIR_DEFINES = ['PVM_GUEST_BUILD_DIR=\\"guests\\"']
PVM_GUEST_IMAGES = ["//guests:images"]

_TEST_DEPS = [
    "//tests:test_support",
    "//third_party:gmock",
    "//third_party:gtest",
    "//third_party:gtest_main",
]

def pvm_cc_library(name, copts = [], **kwargs):
    native.cc_library(name = name, copts = PVM_WARNINGS + copts, **kwargs)

def pvm_cc_binary(name, copts = [], **kwargs):
    native.cc_binary(name = name, copts = PVM_WARNINGS + copts, **kwargs)

def pvm_cc_test(name, srcs, deps = [], timeout = 300, tags = [], copts = [], **kwargs):
    """One gtest binary registered as one test, like pvm_add_test in tests/CMakeLists.txt.

    timeout is CMake's TIMEOUT in seconds, mapped onto Bazel's classes (60 short,
    300 moderate, 900 long).
    """
    if timeout <= 60:
        bazel_timeout = "short"
    elif timeout <= 300:
        bazel_timeout = "moderate"
    else:
        bazel_timeout = "long"
    native.cc_test(
        name = name,
        srcs = srcs,
        deps = deps + _TEST_DEPS,
        copts = PVM_WARNINGS + copts,
        size = "medium",
        timeout = bazel_timeout,
        tags = tags,
        **kwargs
    )

def pvm_kvm_test(name, tags = [], data = [], **kwargs):
    """A pvm_cc_test on the real /dev/kvm with the built-in guest images as runfiles.

    The tests skip themselves without a usable /dev/kvm (tests/support/kvm_required.h)
    and fail instead under CI=true, which scripts/bazel-test passes through.
    """
    pvm_cc_test(
        name = name,
        tags = tags + ["integration", "kvm"],
        data = data + PVM_GUEST_IMAGES,
        **kwargs
    )

# guests/CMakeLists.txt's _guest_flags: freestanding ELF64 images linked at 0x100000 by
# the host's GCC and GNU ld, with no project-wide flags (sanitizers, -fPIE, ...).
# Keep in sync with that file.
PVM_GUEST_FLAGS = [
    "-std=gnu11",
    "-ffreestanding",
    "-nostdlib",
    "-static",
    "-fno-pic",
    "-no-pie",
    "-mno-red-zone",
    "-mgeneral-regs-only",
    "-fno-stack-protector",
    "-fcf-protection=none",
    "-fno-asynchronous-unwind-tables",
    "-fno-tree-loop-distribute-patterns",
    "-fno-omit-frame-pointer",
    "-O2",
    "-g",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wl,--build-id=none",
    "-Wl,-z,max-page-size=4096",
    "-Wl,-z,noexecstack",
]

def pvm_guest_image(name, srcs, runtime_srcs, runtime_hdrs, linker_script, includes):
    """guests/<name>.elf from the shared runtime and the guest's own .c (and .S)."""
    native.genrule(
        name = name + "_elf",
        srcs = runtime_srcs + srcs + runtime_hdrs + includes + [linker_script],
        outs = [name + ".elf"],
        cmd = " ".join(
            ["gcc"] + PVM_GUEST_FLAGS + [
                "-I$$(dirname $(location %s))" % linker_script,
                "-Wl,-T,$(location %s)" % linker_script,
                "-o $@",
            ] + ["$(location %s)" % s for s in runtime_srcs + srcs],
        ),
        message = "Building guest image %s.elf" % name,
    )
