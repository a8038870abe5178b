# Reports how its instance was born and what it can reach: for test/stem-cells.test.ts (a probe, not an attack).
import errno
import os

# The environment the process was started with (a stem cell's has FARE_STEM=1; the function's own
# environment replaced it before this code was loaded).
with open("/proc/self/environ", "rb") as f:
    INITIAL = f.read().split(b"\0")


def try_read(path):
    try:
        with open(path, "rb") as f:
            f.read()
        return "read"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def handler(event, context):
    with open("/proc/self/cgroup") as f:
        cgroup = f.read()
    return {
        "stem": b"FARE_STEM=1" in INITIAL,
        "stemVarLeft": "FARE_STEM" in os.environ,
        "uid": os.getuid(),
        "gid": os.getgid(),
        "groups": os.getgroups(),
        "cgroup": cgroup,
        "greeting": os.environ.get("GREETING"),
        "name": context.function_name,
        "cwd": os.getcwd(),
        "taskRoot": os.environ.get("LAMBDA_TASK_ROOT"),
        "reads": {p: try_read(p) for p in event.get("read", [])},
    }
