#!/bin/sh
# Regenerates src/ketch/proto/ketch_pb2.py from the contract. Needs grpcio-tools
# (pip install grpcio-tools); the generated file is committed so users need only protobuf.
set -e
cd "$(dirname "$0")/../src"
python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. ketch/proto/ketch.proto
