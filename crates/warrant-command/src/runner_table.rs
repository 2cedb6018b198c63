//! The table of runners: every program the crate knows to run a command
//! given as its operands, one entry each, with the reason (see
//! `runners.rs` for what an entry declares).

use crate::options::{Grammar, NONE};
use crate::runners::{BASE, ENV, Form, Runner, SU};

pub(crate) const RUNNERS: &[Runner] = &[
    Runner {
        program: "env",
        grammar: ENV,
        reason: "runs a command with a changed environment",
        ..BASE
    },
    Runner {
        program: "sudo",
        grammar: Grammar {
            flags: "-A --askpass -B --bell -b --background -E -e --edit -H --set-home -i --login -K --remove-timestamp -k --reset-timestamp -l --list -N --no-update -n --non-interactive -P --preserve-groups -S --stdin -s --shell -V --version -v --validate",
            valued: "-a --auth-type -C --close-from -c --login-class -D --chdir -g --group -p --prompt -R --chroot -r --role -T --command-timeout -t --type -U --other-user -u --user",
            optional: "-h --host --preserve-env",
            assigns: true,
            ..NONE
        },
        // Not `-k`: with a command it drops cached credentials and runs it.
        runs_nothing: "-l --list -v --validate -K -e --edit -V --version",
        reason: "runs a command as another user",
        ..BASE
    },
    Runner {
        program: "doas",
        grammar: Grammar { flags: "-L -n -s", valued: "-u -C", ..NONE },
        // `-C config` checks whether the command would be allowed.
        runs_nothing: "-L -C",
        reason: "runs a command as another user",
        ..BASE
    },
    Runner {
        program: "pkexec",
        grammar: Grammar {
            flags: "--disable-internal-agent --keep-cwd --version --help",
            valued: "--user",
            ..NONE
        },
        runs_nothing: "--version --help",
        shell_when_alone: true,
        reason: "runs a command as another user (a root shell without one)",
        ..BASE
    },
    Runner { program: "runuser", grammar: SU, reason: "runs a command as another user", ..BASE },
    Runner {
        program: "setpriv",
        grammar: Grammar {
            flags: "-d --dump --nnp --no-new-privs --keep-groups --clear-groups --init-groups --reset-env",
            valued: "--inh-caps --ambient-caps --bounding-set --ruid --euid --rgid --egid --reuid --regid --groups --securebits --pdeathsig --selinux-label --apparmor-profile --landlock-access --landlock-rule --seccomp-filter",
            ..NONE
        },
        reason: "runs a command with other privileges",
        ..BASE
    },
    Runner {
        program: "nice",
        grammar: Grammar { valued: "-n --adjustment", numeric: true, ..NONE },
        reason: "runs a command at another priority",
        ..BASE
    },
    Runner { program: "nohup", reason: "runs a command immune to hangups", ..BASE },
    Runner {
        program: "setsid",
        grammar: Grammar { flags: "-c --ctty -f --fork -w --wait", ..NONE },
        reason: "runs a command in a new session",
        ..BASE
    },
    Runner {
        program: "time",
        grammar: Grammar {
            flags: "-p -a --append --portability -v --verbose -q --quiet",
            valued: "-f --format -o --output",
            ..NONE
        },
        reason: "runs and times a command",
        ..BASE
    },
    Runner {
        program: "stdbuf",
        grammar: Grammar { valued: "-i --input -o --output -e --error", ..NONE },
        reason: "runs a command with changed buffering",
        ..BASE
    },
    Runner {
        program: "timeout",
        grammar: Grammar {
            flags: "--foreground -v --verbose -p --preserve-status",
            valued: "-k --kill-after -s --signal",
            ..NONE
        },
        positional: 1,
        reason: "runs a command with a time limit",
        ..BASE
    },
    Runner {
        program: "ionice",
        grammar: Grammar {
            flags: "-t --ignore",
            valued: "-c --class -n --classdata -p --pid -P --pgid -u --uid",
            ..NONE
        },
        runs_nothing: "-p --pid -P --pgid -u --uid",
        reason: "runs a command at another I/O priority",
        ..BASE
    },
    Runner {
        program: "chrt",
        grammar: Grammar {
            flags: "-a --all-tasks -b --batch -d --deadline -e --ext -f --fifo -i --idle -o --other -r --rr -R --reset-on-fork -v --verbose -m --max -p --pid",
            valued: "-T --sched-runtime -P --sched-period -D --sched-deadline",
            ..NONE
        },
        positional: 1,
        runs_nothing: "-p --pid -m --max",
        reason: "runs a command with another scheduling policy",
        ..BASE
    },
    Runner {
        program: "taskset",
        grammar: Grammar { flags: "-a --all-tasks -c --cpu-list -p --pid", ..NONE },
        positional: 1,
        runs_nothing: "-p --pid",
        reason: "runs a command on chosen CPUs",
        ..BASE
    },
    Runner {
        program: "prlimit",
        grammar: Grammar {
            flags: "--noheadings --raw --verbose",
            valued: "-p --pid -o --output",
            optional: "--as -c --core -d --data -e --nice -f --fsize -i --sigpending -l --memlock -m --rss -n --nofile -q --msgqueue -r --rtprio -s --stack -t --cpu -u --nproc -x --locks -y --rttime",
            ..NONE
        },
        runs_nothing: "-p --pid",
        reason: "runs a command with changed resource limits",
        ..BASE
    },
    Runner {
        program: "chroot",
        grammar: Grammar { flags: "--skip-chdir", valued: "--userspec --groups", ..NONE },
        positional: 1,
        shell_when_alone: true,
        reason: "runs a command in another root (a shell without one)",
        ..BASE
    },
    Runner {
        program: "nsenter",
        grammar: Grammar {
            flags: "-a --all -F --no-fork --preserve-credentials -Z --follow-context -e --env -c --join-cgroup --user-parent",
            valued: "-t --target -S --setuid -G --setgid -W --wdns",
            optional: "-m --mount -u --uts -i --ipc -n --net -p --pid -C --cgroup -U --user -T --time -r --root -w --wd",
            ..NONE
        },
        shell_when_alone: true,
        reason: "runs a command in other namespaces (a shell without one)",
        ..BASE
    },
    Runner {
        program: "unshare",
        grammar: Grammar {
            flags: "-f --fork -r --map-root-user -c --map-current-user --map-auto --keep-caps",
            valued: "--propagation --setgroups --map-user --map-group --map-users --map-groups -R --root -w --wd -S --setuid -G --setgid --monotonic --boottime -l --load-interp",
            optional: "-m --mount -u --uts -i --ipc -n --net -p --pid -U --user -C --cgroup -T --time --mount-proc --kill-child",
            ..NONE
        },
        shell_when_alone: true,
        reason: "runs a command in new namespaces (a shell without one)",
        ..BASE
    },
    Runner {
        program: "bwrap",
        grammar: Grammar {
            flags: "--unshare-all --share-net --unshare-user --unshare-user-try --unshare-ipc --unshare-pid --unshare-net --unshare-uts --unshare-cgroup --unshare-cgroup-try --die-with-parent --as-pid-1 --new-session --clearenv --disable-userns --assert-userns-disabled --level-prefix",
            valued: "--perms --size --tmpfs --proc --dev --dir --mqueue --remount-ro --chdir --unsetenv --uid --gid --hostname --lock-file --sync-fd --info-fd --json-status-fd --block-fd --userns-block-fd --userns --userns2 --pidns --exec-label --file-label --seccomp --add-seccomp-fd --cap-add --cap-drop --argv0",
            // `--args FD` reads more options from a descriptor: not listed,
            // so it is unknown and the line is dynamic.
            valued2: "--bind --bind-try --dev-bind --dev-bind-try --ro-bind --ro-bind-try --symlink --setenv --file --bind-data --ro-bind-data --chmod --overlay-src",
            ..NONE
        },
        reason: "runs a command in a sandbox",
        ..BASE
    },
    Runner {
        program: "fakeroot",
        grammar: Grammar {
            flags: "-u --unknown-is-real -h -v --version --help",
            valued: "-l --lib --faked -i -s -b",
            ..NONE
        },
        shell_when_alone: true,
        reason: "runs a command as a fake root (a shell without one)",
        ..BASE
    },
    Runner {
        program: "faketime",
        grammar: Grammar {
            flags: "-m -f --exclude-monotonic --disable-shm",
            valued: "-p --date-prog",
            ..NONE
        },
        positional: 1,
        reason: "runs a command at a fake time",
        ..BASE
    },
    Runner {
        program: "valgrind",
        grammar: Grammar { flags: "-v -q -d -h", long_in_one_word: true, ..NONE },
        reason: "runs a command under instrumentation",
        ..BASE
    },
    Runner { program: "catchsegv", reason: "runs a command and reports its crash", ..BASE },
    Runner {
        program: "dbus-run-session",
        grammar: Grammar { valued: "--config-file --dbus-daemon", ..NONE },
        reason: "runs a command with its own message bus",
        ..BASE
    },
    Runner {
        program: "torsocks",
        grammar: Grammar {
            flags: "-i --isolate -d --debug -q --quiet",
            valued: "-u --user -p --pass -a --address -P --port",
            ..NONE
        },
        reason: "runs a command through Tor (`--shell` is unknown: dynamic)",
        ..BASE
    },
    Runner {
        program: "proxychains",
        grammar: Grammar { flags: "-q", valued: "-f", ..NONE },
        reason: "runs a command through proxies",
        ..BASE
    },
    Runner {
        program: "proxychains4",
        grammar: Grammar { flags: "-q", valued: "-f", ..NONE },
        reason: "runs a command through proxies",
        ..BASE
    },
    Runner {
        program: "systemd-run",
        grammar: Grammar {
            flags: "--user --system --scope -r --remain-after-exit --send-sighup -t --pty -P --pipe -q --quiet -G --collect --wait --no-block --no-ask-password -d --same-dir",
            valued: "-u --unit -p --property --description --slice -E --setenv --uid --gid --nice --working-directory -H --host -M --machine --service-type --on-active --on-boot --on-startup --on-unit-active --on-unit-inactive --on-calendar --timer-property --path-property --socket-property",
            ..NONE
        },
        // `-S`/`--shell` is not declared: a shell, so unknown and dynamic.
        reason: "runs a command as a systemd unit",
        ..BASE
    },
    Runner {
        program: "command",
        grammar: Grammar { flags: "-p -v -V", ..NONE },
        runs_nothing: "-v -V",
        reason: "runs a command, skipping functions",
        ..BASE
    },
    Runner { program: "builtin", reason: "runs a shell builtin", ..BASE },
    Runner {
        program: "exec",
        grammar: Grammar { flags: "-c -l", valued: "-a", ..NONE },
        reason: "replaces the shell with a command",
        ..BASE
    },
    Runner {
        program: "xargs",
        grammar: Grammar {
            flags: "-0 --null -r --no-run-if-empty -t --verbose -p --interactive -x --exit -o --open-tty --show-limits",
            valued: "-a --arg-file -d --delimiter -E -I -L -n --max-args -P --max-procs -s --max-chars --process-slot-var",
            optional: "-i --replace -e --eof -l --max-lines",
            ..NONE
        },
        reason: "runs a command with arguments from its input",
        ..BASE
    },
    Runner {
        program: "strace",
        grammar: Grammar {
            flags: "-f -ff -c -C -d -D -i -k -q -r -t -T -v -w -x -y -z -Z -n -F -h -V",
            valued: "-o -e -p -s -u -E -P -I -a -b -O -S -X -U -A",
            ..NONE
        },
        reason: "runs and traces a command",
        ..BASE
    },
    Runner {
        program: "ltrace",
        grammar: Grammar {
            flags: "-c -C -d -f -h -i -L -r -S -t -T -V -w",
            valued: "-o -e -p -s -u -a -A -D -F -l -n -x -b",
            ..NONE
        },
        reason: "runs and traces a command",
        ..BASE
    },
    Runner {
        program: "unbuffer",
        grammar: Grammar { flags: "-p", ..NONE },
        reason: "runs a command on a pseudo-terminal",
        ..BASE
    },
    Runner {
        program: "busybox",
        grammar: Grammar { flags: "--list --list-full --help --install", ..NONE },
        runs_nothing: "--list --list-full --help --install",
        reason: "runs the applet its first operand names",
        ..BASE
    },
    Runner {
        program: "toybox",
        grammar: Grammar { flags: "--long --help --version", ..NONE },
        runs_nothing: "--long --help --version",
        reason: "runs the command its first operand names",
        ..BASE
    },
    Runner {
        program: "firejail",
        grammar: Grammar { long_in_one_word: true, ..NONE },
        shell_when_alone: true,
        // Older versions join the words and hand them to a shell.
        form: Form::Guessed,
        reason: "runs a command in a sandbox, through a shell in older versions",
        ..BASE
    },
    Runner {
        program: "parallel",
        form: Form::Guessed,
        reason: "runs a command through a shell for each input, with `{}` and `:::` filled in",
        ..BASE
    },
    Runner {
        program: "sem",
        form: Form::Guessed,
        reason: "GNU parallel's semaphore: runs a command through a shell",
        ..BASE
    },
    Runner {
        program: "numactl",
        form: Form::Guessed,
        reason: "runs a command with a NUMA policy",
        ..BASE
    },
    Runner {
        program: "setarch",
        form: Form::Guessed,
        reason: "runs a command (a shell without one) with another architecture",
        ..BASE
    },
    Runner { program: "cgexec", form: Form::Guessed, reason: "runs a command in a cgroup", ..BASE },
    Runner {
        program: "daemonize",
        form: Form::Guessed,
        reason: "runs a command as a daemon",
        ..BASE
    },
    Runner { program: "chpst", form: Form::Guessed, reason: "runs a command with limits", ..BASE },
    Runner {
        program: "ld.so",
        grammar: Grammar {
            flags: "--list --verify --inhibit-cache --list-tunables --list-diagnostics --help --version",
            valued: "--library-path --inhibit-rpath --audit --preload --argv0 --glibc-hwcaps-prefix --glibc-hwcaps-mask",
            ..NONE
        },
        runs_nothing: "--list --verify --list-tunables --list-diagnostics --help --version",
        loads_code: "--library-path --audit --preload --glibc-hwcaps-prefix",
        reason: "the dynamic loader run directly loads and runs the program it is given (any `ld-*.so*`, `ld.so`)",
        ..BASE
    },
    Runner {
        program: "ssh-agent",
        grammar: Grammar { flags: "-c -s -D -d -k", valued: "-a -E -O -P -t", ..NONE },
        runs_nothing: "-k",
        reason: "runs a command with an agent in its environment",
        ..BASE
    },
    Runner {
        program: "xvfb-run",
        grammar: Grammar {
            flags: "-a --auto-servernum -h --help -l --listen-tcp",
            valued: "-e --error-file -f --auth-file -n --server-num -p --xauth-protocol -s --server-args -w --wait",
            ..NONE
        },
        runs_nothing: "-h --help",
        reason: "runs a command with a virtual X server",
        ..BASE
    },
    Runner { program: "eatmydata", reason: "runs a command with fsync disabled", ..BASE },
    Runner {
        program: "sshpass",
        grammar: Grammar { flags: "-v -h -V", valued: "-f -d -p -P", optional: "-e", ..NONE },
        runs_nothing: "-h -V",
        reason: "runs a command, typing a password into it",
        ..BASE
    },
    Runner {
        program: "ifne",
        grammar: Grammar { flags: "-n", ..NONE },
        reason: "runs a command if its input is not empty",
        ..BASE
    },
    Runner {
        program: "chronic",
        grammar: Grammar { flags: "-e -v", ..NONE },
        reason: "runs a command, showing its output only if it fails",
        ..BASE
    },
    Runner {
        program: "trickle",
        grammar: Grammar { flags: "-h -v -V -s", valued: "-w -t -l -n -d -u -L -P", ..NONE },
        runs_nothing: "-h -V",
        loads_code: "-P",
        reason: "runs a command with its bandwidth shaped (-P preloads another library)",
        ..BASE
    },
    Runner { program: "nocache", reason: "runs a command without filling the page cache", ..BASE },
    Runner { program: "torify", reason: "runs a command through Tor", ..BASE },
    Runner { program: "tsocks", reason: "runs a command through a SOCKS proxy", ..BASE },
    Runner { program: "run-one", reason: "runs a command unless it is already running", ..BASE },
    Runner {
        program: "gosu",
        positional: 1,
        reason: "runs a command as another user (the first operand)",
        ..BASE
    },
    Runner {
        program: "su-exec",
        positional: 1,
        reason: "runs a command as another user (the first operand)",
        ..BASE
    },
    Runner {
        program: "setuidgid",
        positional: 1,
        reason: "runs a command as another user (the first operand)",
        ..BASE
    },
    Runner {
        program: "envuidgid",
        positional: 1,
        reason: "runs a command with a user's ids in its environment",
        ..BASE
    },
    Runner {
        program: "tini",
        grammar: Grammar { flags: "-h -s -v -vv -vvv -w -g -l", valued: "-p -e", ..NONE },
        reason: "runs a command under a minimal init",
        ..BASE
    },
    Runner {
        program: "dumb-init",
        grammar: Grammar {
            flags: "-c --single-child -v --verbose -V --version -h --help",
            valued: "-r --rewrite",
            ..NONE
        },
        runs_nothing: "-V --version -h --help",
        reason: "runs a command under a minimal init",
        ..BASE
    },
    Runner {
        program: "aa-exec",
        grammar: Grammar {
            flags: "-d --debug -v --verbose -i --immediate -h --help",
            valued: "-p --profile -n --namespace",
            ..NONE
        },
        reason: "runs a command under an AppArmor profile",
        ..BASE
    },
    Runner {
        program: "systemd-inhibit",
        grammar: Grammar {
            flags: "--list --no-pager --no-legend -h --help --version",
            valued: "--what --who --why --mode",
            ..NONE
        },
        runs_nothing: "--list -h --help --version",
        shell_when_alone: true,
        reason: "runs a command holding an inhibitor lock (a shell without one)",
        ..BASE
    },
    Runner {
        program: "caffeinate",
        grammar: Grammar { flags: "-d -i -m -s -u", valued: "-t -w", ..NONE },
        reason: "runs a command keeping the machine awake",
        ..BASE
    },
    Runner {
        program: "rlwrap",
        form: Form::Guessed,
        reason: "runs a command with line editing (-z runs a filter program)",
        ..BASE
    },
    Runner {
        program: "runcon",
        form: Form::Guessed,
        reason: "runs a command in another SELinux context",
        ..BASE
    },
    Runner {
        program: "cpulimit",
        form: Form::Guessed,
        reason: "runs a command with a CPU limit",
        ..BASE
    },
    Runner {
        program: "envdir",
        form: Form::Guessed,
        reason: "runs a command with variables read from files (PATH, LD_PRELOAD, …)",
        ..BASE
    },
    Runner {
        program: "softlimit",
        form: Form::Guessed,
        reason: "runs a command with resource limits",
        ..BASE
    },
    Runner {
        program: "lckdo",
        form: Form::Guessed,
        reason: "runs a command holding a lock file",
        ..BASE
    },
    Runner { program: "tsp", form: Form::Guessed, reason: "queues a command to run later", ..BASE },
    Runner { program: "nq", form: Form::Guessed, reason: "queues a command to run later", ..BASE },
    Runner {
        program: "entr",
        form: Form::Guessed,
        reason: "runs a command when files change (-s through a shell)",
        ..BASE
    },
    Runner {
        program: "heaptrack",
        form: Form::Guessed,
        reason: "runs and profiles a command",
        ..BASE
    },
    Runner {
        program: "flatpak-spawn",
        form: Form::Guessed,
        reason: "runs a command on the host from a sandbox",
        ..BASE
    },
    Runner {
        program: "graftcp",
        form: Form::Guessed,
        reason: "runs a command through a proxy",
        ..BASE
    },
    Runner {
        program: "linux32",
        form: Form::Guessed,
        reason: "setarch under another name: runs a command (a shell without one)",
        ..BASE
    },
    Runner {
        program: "linux64",
        form: Form::Guessed,
        reason: "setarch under another name: runs a command (a shell without one)",
        ..BASE
    },
    Runner {
        program: "i386",
        form: Form::Guessed,
        reason: "setarch under another name: runs a command (a shell without one)",
        ..BASE
    },
    Runner {
        program: "x86_64",
        form: Form::Guessed,
        reason: "setarch under another name: runs a command (a shell without one)",
        ..BASE
    },
    Runner {
        program: "uname26",
        form: Form::Guessed,
        reason: "setarch under another name: runs a command (a shell without one)",
        ..BASE
    },
    Runner {
        program: "dtach",
        form: Form::Opaque,
        reason: "runs a command or a shell detached from the terminal",
        ..BASE
    },
    Runner {
        program: "abduco",
        form: Form::Opaque,
        reason: "runs a command or a shell in a session it keeps",
        ..BASE
    },
    Runner {
        program: "lxc-attach",
        form: Form::Opaque,
        reason: "runs a command or a shell in a container",
        ..BASE
    },
    Runner {
        program: "perf",
        form: Form::Opaque,
        reason: "runs a command under a sub-command (stat, record, trace, …)",
        ..BASE
    },
    Runner {
        program: "rr",
        form: Form::Opaque,
        reason: "records and replays a command under a sub-command",
        ..BASE
    },
    Runner {
        program: "mosh",
        form: Form::Opaque,
        reason: "runs a command or a shell on a host, which may be this one",
        ..BASE
    },
    Runner {
        program: "sandbox-exec",
        form: Form::Opaque,
        reason: "runs a command under a profile that can itself run code",
        ..BASE
    },
    Runner {
        program: "tmux",
        form: Form::Opaque,
        reason: "runs shell commands in panes and sends keys to them",
        ..BASE
    },
    Runner {
        program: "screen",
        form: Form::Opaque,
        reason: "runs a command or a shell in a terminal it controls",
        ..BASE
    },
    Runner {
        program: "at",
        form: Form::Opaque,
        reason: "runs commands read from stdin or a file later",
        ..BASE
    },
    Runner {
        program: "batch",
        form: Form::Opaque,
        reason: "runs commands read from stdin or a file later",
        ..BASE
    },
    Runner {
        program: "sg",
        form: Form::Opaque,
        reason: "runs a command string through sh as another group",
        ..BASE
    },
    Runner {
        program: "newgrp",
        form: Form::Opaque,
        reason: "starts a shell as another group",
        ..BASE
    },
    Runner {
        program: "schroot",
        form: Form::Opaque,
        reason: "runs a command or a shell in a chroot",
        ..BASE
    },
    Runner {
        program: "systemd-nspawn",
        form: Form::Opaque,
        reason: "runs a command or a shell in a container",
        ..BASE
    },
    Runner {
        program: "proot",
        form: Form::Opaque,
        reason: "runs a command or a shell in another root",
        ..BASE
    },
    Runner { program: "nsjail", form: Form::Opaque, reason: "runs a command in a sandbox", ..BASE },
    Runner {
        program: "gdb",
        form: Form::Opaque,
        reason: "runs programs and shell commands from its options and scripts",
        ..BASE
    },
    Runner {
        program: "start-stop-daemon",
        form: Form::Opaque,
        reason: "starts a program it names in an option",
        ..BASE
    },
    Runner {
        program: "gnome-terminal",
        form: Form::Opaque,
        reason: "runs a command or a shell in a terminal",
        ..BASE
    },
    Runner {
        program: "kitty",
        form: Form::Opaque,
        reason: "runs a command or a shell in a terminal",
        ..BASE
    },
    Runner {
        program: "wezterm",
        form: Form::Opaque,
        reason: "runs a command or a shell in a terminal",
        ..BASE
    },
    Runner {
        program: "xfce4-terminal",
        form: Form::Opaque,
        reason: "runs a command or a shell in a terminal",
        ..BASE
    },
    Runner {
        program: "terminator",
        form: Form::Opaque,
        reason: "runs a command or a shell in a terminal",
        ..BASE
    },
    Runner {
        program: "tilix",
        form: Form::Opaque,
        reason: "runs a command or a shell in a terminal",
        ..BASE
    },
];
