/*
 * fare-sandbox — starts one function instance inside its sandbox, in one exec.
 *
 * Fare (running as root) has this helper spawned with the instance's settings — by its launcher
 * process (src/live/runtime/launcher.ts), or by itself where there is none; it joins the instance's
 * cgroups, enters new PID, mount and IPC namespaces, makes the file system read-only but for the
 * instance's private scratch directory (bound over /tmp, /var/tmp, /dev/shm, …), mounts a /proc
 * that shows only the instance's own processes, drops to the instance's own uid and gid with no
 * supplementary groups, no capabilities and no way to gain privileges, and execs the runtime.
 *
 *   host pid namespace:  Fare ── launcher ── fare-sandbox (waits; dies with its parent) ─┐
 *   instance namespace:                          init (pid 1, reaps) ── runtime (pid 2, the uid)
 *
 * Lifetime: the helper gets SIGKILL when its parent dies (PR_SET_PDEATHSIG; `--parent` names it, and
 * the helper refuses to start if it is gone already). Its parent is Fare's launcher process, which
 * exits as soon as Fare is gone, even after `kill -9` (its IPC channel closes), and kills the
 * process groups of what it started first; or Fare itself when it spawns directly. Init gets
 * SIGKILL when the helper dies, and when init dies the kernel kills every process of the namespace
 * — so nothing of an instance outlives it, its parent, or Fare. The helper exits with the runtime's
 * status (its exit code, or the signal that killed it, re-raised), so Fare sees the runtime's own exit.
 *
 * Why C and not `unshare`/`mount`/`setpriv` from util-linux: those are five execs per cold start
 * (about 25 ms on the test machine, a third of a cold start); this is one exec and a few syscalls.
 * It is built at install time (native/build.js, also run on first use); without a C compiler Fare
 * falls back to running every instance as one shared user and says so at start-up.
 *
 * Exit status 125 and a line on stderr starting "fare-sandbox:" mean the sandbox could not be set
 * up (nothing of the function ran).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define SETUP_FAILED 125
#define MAX_LIST 64

static const char *cgroups[MAX_LIST];
static int n_cgroups;
static const char *binds[MAX_LIST]; /* "SRC:DST" */
static int n_binds;
static const char *keep_rw[MAX_LIST]; /* mount points left writable by --readonly */
static int n_keep_rw;
static long parent_pid = -1;
static long uid = -1, gid = -1;
static long nice_value = -1; /* --nice: a lower priority for everything it starts (a stem cell's boot) */
static int pid_ns, ipc_ns, mount_ns, mount_proc, readonly_fs;
static const char *chdir_to;

static void die(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  dprintf(2, "fare-sandbox: %s\n", buf);
  _exit(SETUP_FAILED);
}

static void die_errno(const char *what, const char *arg) {
  die("%s %s: %s", what, arg ? arg : "", strerror(errno));
}

static long parse_long(const char *s, const char *opt) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || *end != '\0' || end == s || v < 0) die("%s needs a non-negative integer, got \"%s\"", opt, s);
  return v;
}

static void add(const char **list, int *n, const char *v, const char *opt) {
  if (*n >= MAX_LIST) die("too many %s options", opt);
  list[(*n)++] = v;
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die_errno("cannot open", path);
  size_t len = strlen(text);
  if (write(fd, text, len) != (ssize_t)len) die_errno("cannot write to", path);
  close(fd);
}

/* Octal escapes of mountinfo (\040 for a space, …) decoded in place. */
static void unescape(char *s) {
  char *w = s;
  for (char *r = s; *r; r++) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
      *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
      r += 3;
    } else {
      *w++ = *r;
    }
  }
  *w = '\0';
}

static int under(const char *path, const char *dir) {
  size_t n = strlen(dir);
  if (strcmp(dir, "/") == 0) return 1;
  return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int kept_writable(const char *point) {
  for (int i = 0; i < n_keep_rw; i++)
    if (under(point, keep_rw[i])) return 1;
  return 0;
}

/*
 * Remounts every mount of the (new) namespace read-only and nosuid, keeping its other flags, except
 * /proc, /dev (device nodes must stay writable: /dev/null) and the --keep-rw points. Mounts that
 * refuse (e.g. hidden below another mount) are left; what is reachable is the topmost mount.
 */
static void remount_readonly(void) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) die_errno("cannot read", "/proc/self/mountinfo");
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    /* id parent major:minor root point options ... */
    char *save = NULL, *fields[6] = {0};
    char *tok = strtok_r(line, " ", &save);
    for (int i = 0; i < 6 && tok; i++, tok = strtok_r(NULL, " ", &save)) fields[i] = tok;
    if (!fields[4] || !fields[5]) continue;
    char *point = fields[4];
    unescape(point);
    if (under(point, "/proc") || under(point, "/dev") || kept_writable(point)) continue;
    unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID;
    char *osave = NULL;
    for (char *o = strtok_r(fields[5], ",", &osave); o; o = strtok_r(NULL, ",", &osave)) {
      if (strcmp(o, "nodev") == 0) flags |= MS_NODEV;
      else if (strcmp(o, "noexec") == 0) flags |= MS_NOEXEC;
      else if (strcmp(o, "noatime") == 0) flags |= MS_NOATIME;
      else if (strcmp(o, "nodiratime") == 0) flags |= MS_NODIRATIME;
      else if (strcmp(o, "relatime") == 0) flags |= MS_RELATIME;
    }
    if (mount(NULL, point, NULL, flags, NULL) != 0 && errno != EINVAL && errno != ENOENT && errno != EACCES) {
      die_errno("cannot make read-only:", point);
    }
  }
  free(line);
  fclose(f);
}

static void set_up_mounts(void) {
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die_errno("cannot make mounts private", NULL);
  if (mount_proc && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) die_errno("cannot mount", "/proc");
  if (readonly_fs) remount_readonly();
  for (int i = 0; i < n_binds; i++) {
    char spec[PATH_MAX * 2];
    snprintf(spec, sizeof spec, "%s", binds[i]);
    char *colon = strrchr(spec, ':'); /* DST never has one; SRC may */
    if (!colon) die("--bind takes SRC:DST, got \"%s\"", binds[i]);
    *colon = '\0';
    const char *src = spec, *dst = colon + 1;
    struct stat st;
    if (stat(dst, &st) != 0) continue; /* nothing to cover on this machine */
    if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) != 0) die_errno("cannot bind over", dst);
    if (mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV, NULL) != 0) die_errno("cannot remount", dst);
  }
}

/* The runtime: drops to the instance's user for good and execs the program. Never returns. */
static void exec_program(char **argv) {
  if (chdir_to && chdir(chdir_to) != 0) die_errno("cannot enter", chdir_to);
  struct rlimit core = {0, 0};
  setrlimit(RLIMIT_CORE, &core);
  if (gid >= 0) {
    if (setgroups(0, NULL) != 0) die_errno("cannot clear supplementary groups", NULL);
    if (setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) != 0) die_errno("cannot set gid", NULL);
  }
  if (uid >= 0 && setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) != 0) die_errno("cannot set uid", NULL);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die_errno("cannot set no_new_privs", NULL);
  /* Cleared by the change of credentials: set again, so the runtime dies with its parent. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) die_errno("cannot set the parent-death signal", NULL);
  /* Only stdin/stdout/stderr go to the function. */
#ifdef SYS_close_range
  syscall(SYS_close_range, 3U, ~0U, 0U);
#else
  for (int fd = 3; fd < 1024; fd++) close(fd);
#endif
  execvp(argv[0], argv);
  die_errno("cannot execute", argv[0]);
}

static void reset_signals(void) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Exits as the runtime did: its exit code, or re-raising the signal that killed it. */
static void exit_like(int status) {
  if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    struct rlimit core = {0, 0};
    setrlimit(RLIMIT_CORE, &core);
    signal(sig, SIG_DFL);
    reset_signals();
    kill(getpid(), sig);
  }
  _exit(SETUP_FAILED);
}

/*
 * pid 1 of the instance's namespace: runs the program as pid 2, reaps every orphan, and when the
 * program ends reports its wait status on `report` and exits (the kernel then kills what is left).
 */
static void run_init(char **argv, int report) {
  pid_t prog = fork();
  if (prog < 0) die_errno("cannot fork the runtime", NULL);
  if (prog == 0) {
    close(report);
    exec_program(argv);
  }
  /* Signals sent to init from inside the namespace are ignored by the kernel unless handled; we
   * handle none, so a function cannot stop or kill its own init. */
  for (;;) {
    int status;
    pid_t p = waitpid(-1, &status, 0);
    if (p < 0 && errno == EINTR) continue;
    if (p < 0) _exit(SETUP_FAILED);
    if (p == prog) {
      if (write(report, &status, sizeof status) != (ssize_t)sizeof status) { /* the helper is gone */ }
      _exit(0);
    }
  }
}

static void usage(void) {
  die("usage: fare-sandbox [--parent PID] [--cgroup PROCS_FILE]... [--uid N --gid N] [--nice N] [--pid-ns] [--ipc-ns] "
      "[--mount-ns [--proc] [--readonly] [--keep-rw DIR]... [--bind SRC:DST]...] [--chdir DIR] -- PROGRAM [ARG]...");
}

int main(int argc, char **argv) {
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--") == 0) { i++; break; }
    if (strcmp(a, "--pid-ns") == 0) pid_ns = 1;
    else if (strcmp(a, "--ipc-ns") == 0) ipc_ns = 1;
    else if (strcmp(a, "--mount-ns") == 0) mount_ns = 1;
    else if (strcmp(a, "--proc") == 0) mount_proc = 1;
    else if (strcmp(a, "--readonly") == 0) readonly_fs = 1;
    else if (!v) usage();
    else if (strcmp(a, "--parent") == 0) parent_pid = parse_long(v, a), i++;
    else if (strcmp(a, "--cgroup") == 0) add(cgroups, &n_cgroups, v, a), i++;
    else if (strcmp(a, "--bind") == 0) add(binds, &n_binds, v, a), i++;
    else if (strcmp(a, "--keep-rw") == 0) add(keep_rw, &n_keep_rw, v, a), i++;
    else if (strcmp(a, "--uid") == 0) uid = parse_long(v, a), i++;
    else if (strcmp(a, "--gid") == 0) gid = parse_long(v, a), i++;
    else if (strcmp(a, "--nice") == 0) nice_value = parse_long(v, a), i++;
    else if (strcmp(a, "--chdir") == 0) chdir_to = v, i++;
    else usage();
  }
  if (i >= argc) usage();
  if ((uid >= 0) != (gid >= 0)) die("--uid and --gid go together");
  if ((mount_proc || readonly_fs || n_binds > 0) && !mount_ns) die("--proc, --readonly and --bind need --mount-ns");
  if (mount_proc && !pid_ns) die("--proc needs --pid-ns");
  char **prog = argv + i;

  /* Die with the parent (Fare's launcher, or Fare); and if it is already gone, do not start. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) die_errno("cannot set the parent-death signal", NULL);
  if (parent_pid >= 0 && getppid() != (pid_t)parent_pid) die("its parent (pid %ld: Fare's launcher, or Fare) is gone", parent_pid);

  /* A nice value (0-19) for the helper, its init and the runtime, inherited by what they start:
   * stem cells boot at 19, so they take only the CPU that functions leave (Fare sets the threads of
   * one that becomes an instance back to 0). */
  if (nice_value >= 0 && setpriority(PRIO_PROCESS, 0, (int)(nice_value > 19 ? 19 : nice_value)) != 0) die_errno("cannot set the nice value", NULL);

  /* Into the instance's groups first: everything after this is accounted, limited and frozen with it. */
  char self[32];
  snprintf(self, sizeof self, "%ld\n", (long)getpid());
  for (int c = 0; c < n_cgroups; c++) write_file(cgroups[c], self);

  int flags = (pid_ns ? CLONE_NEWPID : 0) | (ipc_ns ? CLONE_NEWIPC : 0) | (mount_ns ? CLONE_NEWNS : 0);
  if (flags && unshare(flags) != 0) die_errno("cannot create namespaces", NULL);

  if (!pid_ns) {
    if (mount_ns) set_up_mounts();
    exec_program(prog);
  }

  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) die_errno("cannot make a pipe", NULL);
  pid_t init = fork();
  if (init < 0) die_errno("cannot fork", NULL);
  if (init == 0) {
    close(pipefd[0]);
    /* Die with the helper (and so with Fare); the namespace dies with init. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) die_errno("cannot set the parent-death signal", NULL);
    if (mount_ns) set_up_mounts();
    run_init(prog, pipefd[1]);
  }
  close(pipefd[1]);
  int status = 0, reported = 0;
  ssize_t n;
  while ((n = read(pipefd[0], &status, sizeof status)) < 0 && errno == EINTR) {}
  reported = n == (ssize_t)sizeof status;
  int init_status;
  while (waitpid(init, &init_status, 0) < 0 && errno == EINTR) {}
  if (reported) exit_like(status);
  /* init ended without a report: set-up failed (its message is on stderr) or it was killed. */
  exit_like(init_status);
  return SETUP_FAILED;
}
