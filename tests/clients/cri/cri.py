#!/usr/bin/python3 -S
r"""A small CRI v1 client for brig's tests (Debian's python3-grpcio and protobuf; no crictl in Debian).

    cri.py --sock SOCKET [--time] METHOD JSON [METHOD JSON]...
    cri.py --sock SOCKET --serve PORT_FILE

Calls each METHOD (RuntimeService or ImageService, as named in cri.proto) in order with the request given as
protobuf JSON (field names as in cri.proto), and prints one line of compact JSON per response (ExecSync's
stdout and stderr as text). In a later request, @POD@ and @CTR@ stand for the last pod_sandbox_id and
container_id a response returned, so one process can run a pod start (the benchmark times it so, without a
Python start-up per call). --time adds "_ms", the call's wall time. On an RPC error: "cri: METHOD: CODE:
details" on stderr, exit 1, the later calls not made.

The message classes come from cri.proto, compiled with protoc into $CRI_PB_DIR (default:
$TMPDIR/brig-cri-pb) the first time it is missing there.

Under TCG a Python start with grpc costs seconds, so tests use --serve: one process that listens on a TCP
port of 127.0.0.1 (written to PORT_FILE once listening) and runs, per connection, the calls of one
request: "N\0ARG1\0...ARGN\0" (the arguments above after --sock), answering with the output lines, then
"#err LINE" for each error line and "#rc STATUS", and closing. Bash talks to it through /dev/tcp, a builtin:
no fork per call. -S and the explicit dist-packages: site's scan of the packages costs seconds there too.
"""
import io
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if "/usr/lib/python3/dist-packages" not in sys.path:
    sys.path.append("/usr/lib/python3/dist-packages")


def load_pb2():
    out = os.environ.get("CRI_PB_DIR") or os.path.join(os.environ.get("TMPDIR", "/tmp"), "brig-cri-pb")
    proto = os.path.join(HERE, "cri.proto")
    gen = os.path.join(out, "cri_pb2.py")
    if not os.path.exists(gen) or os.path.getmtime(gen) < os.path.getmtime(proto):
        os.makedirs(out, exist_ok=True)
        subprocess.run(["protoc", "-I", HERE, "--python_out=" + out, proto], check=True)
    sys.path.insert(0, out)
    import cri_pb2  # noqa: E402 (generated above)
    return cri_pb2


USAGE = "usage: cri.py --sock SOCKET [--time] METHOD JSON [METHOD JSON]... | --serve PORT_FILE"


def run_calls(client, argv, out, err):
    """Runs the calls of one command line (after --sock) and returns its exit status."""
    timed = False
    if argv and argv[0] == "--time":
        timed = True
        argv = argv[1:]
    if not argv or len(argv) % 2:
        print(USAGE, file=err)
        return 2
    grpc, json_format, pb, methods, channel = client
    last = {"@POD@": "", "@CTR@": ""}
    for name, text in zip(argv[0::2], argv[1::2]):
        if name not in methods:
            print("cri: %s: no such method in cri.proto" % name, file=err)
            return 2
        svc, m = methods[name]
        req_cls = getattr(pb, m.input_type.name)
        resp_cls = getattr(pb, m.output_type.name)
        for k, v in last.items():
            text = text.replace(k, v)
        try:
            req = json_format.Parse(text, req_cls())
        except json_format.ParseError as e:
            print("cri: %s: bad request JSON: %s" % (name, e), file=err)
            return 2
        call = channel.unary_unary("/%s/%s" % (svc, name), request_serializer=req_cls.SerializeToString,
                                   response_deserializer=resp_cls.FromString)
        t0 = time.monotonic()
        try:
            resp = call(req, timeout=120)
        except grpc.RpcError as e:
            print("cri: %s: %s: %s" % (name, e.code().name, e.details()), file=err)
            return 1
        ms = (time.monotonic() - t0) * 1000
        res = json_format.MessageToDict(resp, preserving_proto_field_name=True)
        if name == "ExecSync":
            res["stdout"] = resp.stdout.decode(errors="replace")
            res["stderr"] = resp.stderr.decode(errors="replace")
            res["exit_code"] = resp.exit_code
        if getattr(resp, "pod_sandbox_id", ""):
            last["@POD@"] = resp.pod_sandbox_id
        if getattr(resp, "container_id", ""):
            last["@CTR@"] = resp.container_id
        if timed:
            res["_ms"] = round(ms, 1)
        print(json.dumps(res, separators=(",", ":")), file=out, flush=True)
    return 0


def serve(client, port_file):
    import socket
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(port_file + ".tmp", port_file)
    while True:
        conn, _ = srv.accept()
        with conn:
            buf = b""
            args = None
            while args is None:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                buf += chunk
                parts = buf.split(b"\0")
                if len(parts) > 1 and parts[0].isdigit() and len(parts) - 2 >= int(parts[0]):
                    args = [p.decode() for p in parts[1:1 + int(parts[0])]]
            if args is None:
                continue
            out, err = io.StringIO(), io.StringIO()
            try:
                rc = run_calls(client, args, out, err)
            except Exception as e:  # a bug here must not take the server down with it
                print("cri: %s: %s" % (type(e).__name__, e), file=err)
                rc = 3
            text = out.getvalue() + "".join("#err %s\n" % l for l in err.getvalue().splitlines())
            conn.sendall((text + "#rc %d\n" % rc).encode())


def main(argv):
    sock, serve_file = None, None
    while len(argv) >= 2 and argv[0] in ("--sock", "--serve"):
        if argv[0] == "--sock":
            sock = argv[1]
        else:
            serve_file = argv[1]
        argv = argv[2:]
    if not sock:
        print(USAGE, file=sys.stderr)
        return 2
    import grpc
    from google.protobuf import json_format

    pb = load_pb2()
    methods = {}
    for svc in pb.DESCRIPTOR.services_by_name.values():
        for m in svc.methods:
            methods[m.name] = (svc.full_name, m)
    client = (grpc, json_format, pb, methods, grpc.insecure_channel("unix://" + sock))
    if serve_file:
        serve(client, serve_file)
        return 0
    return run_calls(client, argv, sys.stdout, sys.stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
