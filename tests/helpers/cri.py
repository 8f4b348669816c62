#!/usr/bin/python3
"""A small CRI v1 client (k8s.io/cri-api runtime/v1/api.proto), for tests/cri.rs: what a kubelet
asks of a container runtime, without a kubelet. gRPC from python3-grpcio (Debian's; run it with
/usr/bin/python3); the protobuf messages are encoded and decoded here by hand from the schema
below (field numbers of api.proto), with no generated code and no protoc.

  cri.py SOCKET METHOD [JSON]
      Call METHOD (RuntimeService or ImageService, e.g. RunPodSandbox) on the CRI listening on
      the unix socket SOCKET with the request given as JSON (field names of api.proto; enums by
      name or number; maps as objects; bytes as strings). Prints the response one field a line,
      `path=value`, path dotted (repeated fields by index, maps by key), value with \\ and
      newlines escaped as \\\\ and \\n; enums by name. A gRPC error: `cri.py: METHOD: CODE:
      details` on stderr, status 1.

  cri.py image-cmd IN.tar OUT.tar NAME CMD...
      Copy the OCI image archive IN.tar (one image, as tests/helpers/oci-image.sh makes) to
      OUT.tar with the config's Cmd set to CMD and named NAME: the pod's sandbox ("pause")
      image, whose command the CRI takes from the image.
"""
import hashlib
import io
import json
import sys
import tarfile

# --------------------------------------------------------------------------------------------
# The schema: message -> {field: (number, type)}. A type is a scalar (string, bytes, bool,
# int32, int64, uint32, uint64), "enum:NAME", "map" (map<string, string>) or a message name; a
# leading "*" makes it repeated.

ENUMS = {
    "NamespaceMode": ["POD", "CONTAINER", "NODE", "TARGET"],
    "PodSandboxState": ["SANDBOX_READY", "SANDBOX_NOTREADY"],
    "ContainerState": ["CONTAINER_CREATED", "CONTAINER_RUNNING", "CONTAINER_EXITED", "CONTAINER_UNKNOWN"],
    "ProfileType": ["RuntimeDefault", "Unconfined", "Localhost"],
    "MountPropagation": ["PROPAGATION_PRIVATE", "PROPAGATION_HOST_TO_CONTAINER", "PROPAGATION_BIDIRECTIONAL"],
    "Protocol": ["TCP", "UDP", "SCTP"],
}

MESSAGES = {
    # Shared pieces.
    "Int64Value": {"value": (1, "int64")},
    "KeyValue": {"key": (1, "string"), "value": (2, "string")},
    "NamespaceOption": {
        "network": (1, "enum:NamespaceMode"),
        "pid": (2, "enum:NamespaceMode"),
        "ipc": (3, "enum:NamespaceMode"),
        "target_id": (4, "string"),
    },
    "SecurityProfile": {"profile_type": (1, "enum:ProfileType"), "localhost_ref": (2, "string")},
    "ImageSpec": {"image": (1, "string"), "annotations": (2, "map")},
    "Mount": {
        "container_path": (1, "string"),
        "host_path": (2, "string"),
        "readonly": (3, "bool"),
        "selinux_relabel": (4, "bool"),
        "propagation": (5, "enum:MountPropagation"),
    },
    # Version.
    "VersionRequest": {"version": (1, "string")},
    "VersionResponse": {
        "version": (1, "string"),
        "runtime_name": (2, "string"),
        "runtime_version": (3, "string"),
        "runtime_api_version": (4, "string"),
    },
    # Status.
    "StatusRequest": {"verbose": (1, "bool")},
    "RuntimeCondition": {"type": (1, "string"), "status": (2, "bool"), "reason": (3, "string"), "message": (4, "string")},
    "RuntimeStatus": {"conditions": (1, "*RuntimeCondition")},
    "StatusResponse": {"status": (1, "RuntimeStatus"), "info": (2, "map")},
    # Pod sandboxes.
    "PodSandboxMetadata": {"name": (1, "string"), "uid": (2, "string"), "namespace": (3, "string"), "attempt": (4, "uint32")},
    "DNSConfig": {"servers": (1, "*string"), "searches": (2, "*string"), "options": (3, "*string")},
    "PortMapping": {"protocol": (1, "enum:Protocol"), "container_port": (2, "int32"), "host_port": (3, "int32"), "host_ip": (4, "string")},
    "LinuxSandboxSecurityContext": {
        "namespace_options": (1, "NamespaceOption"),
        "run_as_user": (3, "Int64Value"),
        "readonly_rootfs": (4, "bool"),
        "supplemental_groups": (5, "*int64"),
        "privileged": (6, "bool"),
        "run_as_group": (8, "Int64Value"),
        "seccomp": (9, "SecurityProfile"),
        "apparmor": (10, "SecurityProfile"),
    },
    "LinuxPodSandboxConfig": {
        "cgroup_parent": (1, "string"),
        "security_context": (2, "LinuxSandboxSecurityContext"),
        "sysctls": (3, "map"),
    },
    "PodSandboxConfig": {
        "metadata": (1, "PodSandboxMetadata"),
        "hostname": (2, "string"),
        "log_directory": (3, "string"),
        "dns_config": (4, "DNSConfig"),
        "port_mappings": (5, "*PortMapping"),
        "labels": (6, "map"),
        "annotations": (7, "map"),
        "linux": (8, "LinuxPodSandboxConfig"),
    },
    "RunPodSandboxRequest": {"config": (1, "PodSandboxConfig"), "runtime_handler": (2, "string")},
    "RunPodSandboxResponse": {"pod_sandbox_id": (1, "string")},
    "StopPodSandboxRequest": {"pod_sandbox_id": (1, "string")},
    "StopPodSandboxResponse": {},
    "RemovePodSandboxRequest": {"pod_sandbox_id": (1, "string")},
    "RemovePodSandboxResponse": {},
    "PodSandboxStatusRequest": {"pod_sandbox_id": (1, "string"), "verbose": (2, "bool")},
    "PodIP": {"ip": (1, "string")},
    "PodSandboxNetworkStatus": {"ip": (1, "string"), "additional_ips": (2, "*PodIP")},
    "Namespace": {"options": (2, "NamespaceOption")},
    "LinuxPodSandboxStatus": {"namespaces": (1, "Namespace")},
    "PodSandboxStatus": {
        "id": (1, "string"),
        "metadata": (2, "PodSandboxMetadata"),
        "state": (3, "enum:PodSandboxState"),
        "created_at": (4, "int64"),
        "network": (5, "PodSandboxNetworkStatus"),
        "linux": (6, "LinuxPodSandboxStatus"),
        "labels": (7, "map"),
        "annotations": (8, "map"),
        "runtime_handler": (9, "string"),
    },
    "PodSandboxStatusResponse": {"status": (1, "PodSandboxStatus"), "info": (2, "map")},
    "PodSandboxStateValue": {"state": (1, "enum:PodSandboxState")},
    "PodSandboxFilter": {"id": (1, "string"), "state": (2, "PodSandboxStateValue"), "label_selector": (3, "map")},
    "ListPodSandboxRequest": {"filter": (1, "PodSandboxFilter")},
    "PodSandbox": {
        "id": (1, "string"),
        "metadata": (2, "PodSandboxMetadata"),
        "state": (3, "enum:PodSandboxState"),
        "created_at": (4, "int64"),
        "labels": (5, "map"),
        "annotations": (6, "map"),
        "runtime_handler": (7, "string"),
    },
    "ListPodSandboxResponse": {"items": (1, "*PodSandbox")},
    # Containers.
    "ContainerMetadata": {"name": (1, "string"), "attempt": (2, "uint32")},
    "LinuxContainerResources": {
        "cpu_period": (1, "int64"),
        "cpu_quota": (2, "int64"),
        "cpu_shares": (3, "int64"),
        "memory_limit_in_bytes": (4, "int64"),
        "oom_score_adj": (5, "int64"),
        "cpuset_cpus": (6, "string"),
        "cpuset_mems": (7, "string"),
        "unified": (9, "map"),
        "memory_swap_limit_in_bytes": (10, "int64"),
    },
    "Capability": {"add_capabilities": (1, "*string"), "drop_capabilities": (2, "*string"), "add_ambient_capabilities": (3, "*string")},
    "LinuxContainerSecurityContext": {
        "capabilities": (1, "Capability"),
        "privileged": (2, "bool"),
        "namespace_options": (3, "NamespaceOption"),
        "run_as_user": (5, "Int64Value"),
        "run_as_username": (6, "string"),
        "readonly_rootfs": (7, "bool"),
        "supplemental_groups": (8, "*int64"),
        "no_new_privs": (11, "bool"),
        "run_as_group": (12, "Int64Value"),
        "masked_paths": (13, "*string"),
        "readonly_paths": (14, "*string"),
        "seccomp": (15, "SecurityProfile"),
        "apparmor": (16, "SecurityProfile"),
    },
    "LinuxContainerConfig": {"resources": (1, "LinuxContainerResources"), "security_context": (2, "LinuxContainerSecurityContext")},
    "ContainerConfig": {
        "metadata": (1, "ContainerMetadata"),
        "image": (2, "ImageSpec"),
        "command": (3, "*string"),
        "args": (4, "*string"),
        "working_dir": (5, "string"),
        "envs": (6, "*KeyValue"),
        "mounts": (7, "*Mount"),
        "labels": (9, "map"),
        "annotations": (10, "map"),
        "log_path": (11, "string"),
        "stdin": (12, "bool"),
        "stdin_once": (13, "bool"),
        "tty": (14, "bool"),
        "linux": (15, "LinuxContainerConfig"),
    },
    "CreateContainerRequest": {"pod_sandbox_id": (1, "string"), "config": (2, "ContainerConfig"), "sandbox_config": (3, "PodSandboxConfig")},
    "CreateContainerResponse": {"container_id": (1, "string")},
    "StartContainerRequest": {"container_id": (1, "string")},
    "StartContainerResponse": {},
    "StopContainerRequest": {"container_id": (1, "string"), "timeout": (2, "int64")},
    "StopContainerResponse": {},
    "RemoveContainerRequest": {"container_id": (1, "string")},
    "RemoveContainerResponse": {},
    "ContainerStatusRequest": {"container_id": (1, "string"), "verbose": (2, "bool")},
    "ContainerStatus": {
        "id": (1, "string"),
        "metadata": (2, "ContainerMetadata"),
        "state": (3, "enum:ContainerState"),
        "created_at": (4, "int64"),
        "started_at": (5, "int64"),
        "finished_at": (6, "int64"),
        "exit_code": (7, "int32"),
        "image": (8, "ImageSpec"),
        "image_ref": (9, "string"),
        "reason": (10, "string"),
        "message": (11, "string"),
        "labels": (12, "map"),
        "annotations": (13, "map"),
        "mounts": (14, "*Mount"),
        "log_path": (15, "string"),
    },
    "ContainerStatusResponse": {"status": (1, "ContainerStatus"), "info": (2, "map")},
    "ContainerStateValue": {"state": (1, "enum:ContainerState")},
    "ContainerFilter": {
        "id": (1, "string"),
        "state": (2, "ContainerStateValue"),
        "pod_sandbox_id": (3, "string"),
        "label_selector": (4, "map"),
    },
    "ListContainersRequest": {"filter": (1, "ContainerFilter")},
    "Container": {
        "id": (1, "string"),
        "pod_sandbox_id": (2, "string"),
        "metadata": (3, "ContainerMetadata"),
        "image": (4, "ImageSpec"),
        "image_ref": (5, "string"),
        "state": (6, "enum:ContainerState"),
        "created_at": (7, "int64"),
        "labels": (8, "map"),
        "annotations": (9, "map"),
    },
    "ListContainersResponse": {"containers": (1, "*Container")},
    "ExecSyncRequest": {"container_id": (1, "string"), "cmd": (2, "*string"), "timeout": (3, "int64")},
    "ExecSyncResponse": {"stdout": (1, "bytes"), "stderr": (2, "bytes"), "exit_code": (3, "int32")},
    # Images.
    "Image": {
        "id": (1, "string"),
        "repo_tags": (2, "*string"),
        "repo_digests": (3, "*string"),
        "size": (4, "uint64"),
        "uid": (5, "Int64Value"),
        "username": (6, "string"),
        "spec": (7, "ImageSpec"),
        "pinned": (8, "bool"),
    },
    "ImageFilter": {"image": (1, "ImageSpec")},
    "ListImagesRequest": {"filter": (1, "ImageFilter")},
    "ListImagesResponse": {"images": (1, "*Image")},
    "ImageStatusRequest": {"image": (1, "ImageSpec"), "verbose": (2, "bool")},
    "ImageStatusResponse": {"image": (1, "Image"), "info": (2, "map")},
}

RUNTIME = "runtime.v1.RuntimeService"
IMAGES = "runtime.v1.ImageService"
METHODS = {
    "Version": RUNTIME,
    "Status": RUNTIME,
    "RunPodSandbox": RUNTIME,
    "StopPodSandbox": RUNTIME,
    "RemovePodSandbox": RUNTIME,
    "PodSandboxStatus": RUNTIME,
    "ListPodSandbox": RUNTIME,
    "CreateContainer": RUNTIME,
    "StartContainer": RUNTIME,
    "StopContainer": RUNTIME,
    "RemoveContainer": RUNTIME,
    "ListContainers": RUNTIME,
    "ContainerStatus": RUNTIME,
    "ExecSync": RUNTIME,
    "ListImages": IMAGES,
    "ImageStatus": IMAGES,
}

SCALARS = {"string", "bytes", "bool", "int32", "int64", "uint32", "uint64"}
VARINTS = {"bool", "int32", "int64", "uint32", "uint64"}

# --------------------------------------------------------------------------------------------
# Encoding: the wire format's varints (wire type 0) and length-delimited fields (wire type 2).


def varint(n):
    n &= (1 << 64) - 1  # negative int32/int64: ten bytes of two's complement
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(number, wire):
    return varint(number << 3 | wire)


def delimited(number, data):
    return key(number, 2) + varint(len(data)) + data


def enum_number(kind, value):
    if isinstance(value, int):
        return value
    return ENUMS[kind].index(value)


def encode_one(number, kind, value):
    if kind in ("string", "bytes"):
        data = value.encode() if isinstance(value, str) else bytes(value)
        return delimited(number, data)
    if kind in VARINTS:
        return key(number, 0) + varint(int(value))
    if kind.startswith("enum:"):
        return key(number, 0) + varint(enum_number(kind[5:], value))
    if kind == "map":
        return b"".join(delimited(number, encode({"key": k, "value": v}, "KeyValue")) for k, v in value.items())
    # A message: present even when empty (a wrapper such as Int64Value{0} means something).
    return delimited(number, encode(value, kind))


def encode(obj, message):
    schema = MESSAGES[message]
    out = bytearray()
    for name, value in obj.items():
        if name not in schema:
            raise SystemExit(f"cri.py: {message} has no field {name!r}")
        number, kind = schema[name]
        if kind.startswith("*"):
            for v in value:
                out += encode_one(number, kind[1:], v)
        else:
            out += encode_one(number, kind, value)
    return bytes(out)


# --------------------------------------------------------------------------------------------
# Decoding into (path, value) pairs.


def read_varint(buf, i):
    n = shift = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def fields(buf):
    """(number, wire type, value) of each field of a message: an int, or the bytes."""
    i = 0
    while i < len(buf):
        k, i = read_varint(buf, i)
        number, wire = k >> 3, k & 7
        if wire == 0:
            v, i = read_varint(buf, i)
        elif wire == 1:
            v, i = int.from_bytes(buf[i : i + 8], "little"), i + 8
        elif wire == 2:
            n, i = read_varint(buf, i)
            v, i = buf[i : i + n], i + n
        elif wire == 5:
            v, i = int.from_bytes(buf[i : i + 4], "little"), i + 4
        else:
            raise SystemExit(f"cri.py: wire type {wire} of field {number} not handled")
        yield number, wire, v


def scalar(kind, v):
    if kind in ("string", "bytes"):
        return bytes(v).decode(errors="replace")
    if kind == "bool":
        return "true" if v else "false"
    if kind in ("int32", "int64"):
        return str(v - (1 << 64) if v >= 1 << 63 else v)
    if kind.startswith("enum:"):
        names = ENUMS[kind[5:]]
        return names[v] if v < len(names) else str(v)
    return str(v)


def decode(buf, message, prefix, out):
    """Every field of the message, those at their default (which proto3 leaves out) too, but
    for the repeated ones and the messages."""
    schema = {number: (name, kind) for name, (number, kind) in MESSAGES[message].items()}
    counts = {}
    seen = set()
    for number, wire, v in fields(buf):
        seen.add(number)
        if number not in schema:
            continue
        name, kind = schema[number]
        path = prefix + name
        repeated = kind.startswith("*")
        kind = kind.lstrip("*")
        if kind == "map":
            entry = dict((n, bytes(x).decode(errors="replace")) for n, _, x in fields(v))
            out.append((f"{path}.{entry.get(1, '')}", entry.get(2, "")))
            continue
        if repeated and kind in VARINTS and wire == 2:  # packed
            items = []
            j = 0
            while j < len(v):
                x, j = read_varint(v, j)
                items.append(x)
        else:
            items = [v]
        for x in items:
            p = path
            if repeated:
                p = f"{path}.{counts.get(number, 0)}"
                counts[number] = counts.get(number, 0) + 1
            if kind in SCALARS or kind.startswith("enum:"):
                out.append((p, scalar(kind, x)))
            else:
                out.append((p, ""))
                decode(x, kind, p + ".", out)
    for number, (name, kind) in sorted(schema.items()):
        if number not in seen and (kind in SCALARS or kind.startswith("enum:")):
            out.append((prefix + name, scalar(kind, b"" if kind in ("string", "bytes") else 0)))


def escape(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n")


def call(socket, method, request):
    import grpc  # python3-grpcio

    service = METHODS.get(method)
    if service is None:
        raise SystemExit(f"cri.py: unknown method {method} (one of {', '.join(METHODS)})")
    req_type, resp_type = method + "Request", method + "Response"
    body = encode(request, req_type)
    with grpc.insecure_channel("unix://" + socket) as channel:
        rpc = channel.unary_unary(f"/{service}/{method}", request_serializer=None, response_deserializer=None)
        try:
            raw = rpc(body, wait_for_ready=False)
        except grpc.RpcError as e:
            sys.stderr.write(f"cri.py: {method}: {e.code().name}: {e.details()}\n")
            return 1
    out = []
    decode(raw, resp_type, "", out)
    sys.stdout.write("".join(f"{p}={escape(v)}\n" for p, v in out))
    return 0


# --------------------------------------------------------------------------------------------
# The sandbox image: another image's archive with another Cmd.


def image_cmd(src, dst, name, cmd):
    with tarfile.open(src) as t:
        files = {m.name.lstrip("./"): t.extractfile(m).read() for m in t.getmembers() if m.isfile()}

    def blob(digest):
        return files["blobs/sha256/" + digest.split(":", 1)[1]]

    def put(data):
        digest = hashlib.sha256(data).hexdigest()
        files["blobs/sha256/" + digest] = data
        return "sha256:" + digest, len(data)

    index = json.loads(files["index.json"])
    desc = index["manifests"][0]
    manifest = json.loads(blob(desc["digest"]))
    config = json.loads(blob(manifest["config"]["digest"]))
    config.setdefault("config", {})["Cmd"] = cmd
    config["config"].pop("Entrypoint", None)
    manifest["config"]["digest"], manifest["config"]["size"] = put(json.dumps(config).encode())
    desc["digest"], desc["size"] = put(json.dumps(manifest).encode())
    desc["annotations"] = {"org.opencontainers.image.ref.name": name, "io.containerd.image.name": name}
    index["manifests"] = [desc]
    files["index.json"] = json.dumps(index).encode()
    # Only what the new index reaches: the layers, the new config and manifest.
    keep = {"oci-layout", "index.json", "blobs/sha256/" + desc["digest"][7:], "blobs/sha256/" + manifest["config"]["digest"][7:]}
    keep |= {"blobs/sha256/" + l["digest"][7:] for l in manifest["layers"]}
    with tarfile.open(dst, "w") as t:
        for path in sorted(keep):
            info = tarfile.TarInfo(path)
            info.size = len(files[path])
            info.mode = 0o644
            t.addfile(info, io.BytesIO(files[path]))


def main(argv):
    if len(argv) >= 5 and argv[1] == "image-cmd":
        image_cmd(argv[2], argv[3], argv[4], argv[5:])
        return 0
    if len(argv) not in (3, 4):
        sys.stderr.write("usage: cri.py SOCKET METHOD [JSON] | cri.py image-cmd IN.tar OUT.tar NAME CMD...\n")
        return 2
    request = json.loads(argv[3]) if len(argv) == 4 else {}
    return call(argv[1], argv[2], request)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
