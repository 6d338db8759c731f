# Offline stand-in for @rules_java: Debian 12's bazel-bootstrap (4.2.3) names this
# repository from its built-in WORKSPACE suffix (an http_archive, unreachable here) and
# loads these symbols from @bazel_tools. The rules themselves are Bazel's native ones;
# this file only forwards to them. (Debian's own bazel-rules-java package is a newer
# release that needs a newer Bazel.)

def java_binary(**attrs):
    native.java_binary(**attrs)

def java_import(**attrs):
    native.java_import(**attrs)

def java_library(**attrs):
    native.java_library(**attrs)

def java_lite_proto_library(**attrs):
    native.java_lite_proto_library(**attrs)

def java_package_configuration(**attrs):
    native.java_package_configuration(**attrs)

def java_plugin(**attrs):
    native.java_plugin(**attrs)

def java_proto_library(**attrs):
    native.java_proto_library(**attrs)

def java_runtime(**attrs):
    native.java_runtime(**attrs)

def java_test(**attrs):
    native.java_test(**attrs)

def java_toolchain(**attrs):
    native.java_toolchain(**attrs)
