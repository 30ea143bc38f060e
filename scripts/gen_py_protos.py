"""Build step: generates the grpcio stubs (lumos/_proto/*_pb2*.py) from protos/.

The protos import each other by bare name ("common.proto") for C++; the Python
stubs must import package-relative (`from lumos._proto import common_pb2`), so
the files are staged under lumos/_proto/ with their imports rewritten first.
Runs grpc_tools at build time only (never import it at run time).
"""
import os
import re
import shutil
import sys
import tempfile

from grpc_tools import protoc


def main(proto_dir, out_dir, names):
    stage = tempfile.mkdtemp(prefix="lumos_protos_")
    try:
        pkg = os.path.join(stage, "lumos", "_proto")
        os.makedirs(pkg)
        for name in names:
            with open(os.path.join(proto_dir, name + ".proto")) as f:
                text = f.read()
            text = re.sub(r'import "([a-z_]+\.proto)";', r'import "lumos/_proto/\1";', text)
            with open(os.path.join(pkg, name + ".proto"), "w") as f:
                f.write(text)
        os.makedirs(out_dir, exist_ok=True)
        include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
        args = ["protoc", "-I" + stage, "-I" + include, "--python_out=" + out_dir,
                "--grpc_python_out=" + out_dir]
        args += ["lumos/_proto/%s.proto" % n for n in names]
        if protoc.main(args) != 0:
            sys.exit("grpc_tools.protoc failed")
        open(os.path.join(out_dir, "lumos", "_proto", "__init__.py"), "a").close()
    finally:
        shutil.rmtree(stage)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
