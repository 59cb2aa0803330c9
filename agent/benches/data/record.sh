#!/bin/sh
# Records agent/benches/data/workload.jsonl.gz: real workloads under the real ptrace driver,
# tracing the default interest set plus whatever the default and upstream rules need (so both
# benchmark rulesets see every event their drivers would report). Run from the repository root
# after `cargo build -p lanner`; needs gcc, curl, python3, dpkg, apt-cache.
set -eu
LANNER=${LANNER:-target/debug/lanner}
OUT=agent/benches/data/workload.jsonl
DEFAULT_INTEREST="execve,execveat,clone,clone3,fork,vfork,open,openat,openat2,creat,connect,accept,accept4,bind,listen,socket,sendto,sendmsg,unlink,unlinkat,rename,renameat,renameat2,mkdir,mkdirat,rmdir,symlink,symlinkat,link,linkat,chmod,fchmod,fchmodat,fchmodat2,chown,lchown,fchown,fchownat,setuid,setgid,setreuid,setregid,setresuid,setresgid,ptrace,mount,umount,umount2,kill,tkill,tgkill,memfd_create,init_module,finit_module,bpf,io_uring_setup,dup,dup2,dup3,close,process_vm_writev,setns,unshare,pivot_root,chroot,userfaultfd,socketpair"
RULES=$("$LANNER" rules syscalls agent/rules/falco_rules.yaml agent/rules/default.yaml 2>/dev/null \
    | tail -n +2 | awk '{print $1}' | paste -sd, -)
WORK=$(mktemp -d)
cat > "$WORK/workload.sh" <<'SCRIPT'
cd "$1"
# A shell pipeline.
cat /etc/passwd | cut -d: -f1 | sort | uniq -c | sort -rn | head -3
ls -la /usr/bin | grep -c '^-' > /dev/null
find /etc -maxdepth 1 -name '*.conf' | xargs wc -l | tail -1
# A package manager asked questions.
dpkg -l | head -20 > /dev/null
apt-cache policy coreutils > /dev/null
# A compile, an archive, a run.
printf '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n' > hello.c
gcc -O0 -o hello hello.c
./hello
tar czf src.tgz hello.c hello && tar tzf src.tgz > /dev/null
rm -f hello hello.c src.tgz
# A network client against a loopback server.
python3 -m http.server -b 127.0.0.1 18473 > /dev/null 2>&1 &
server=$!
for i in 1 2 3 4 5 6 7 8 9 10; do curl -s -o /dev/null http://127.0.0.1:18473/ && break; sleep 0.2; done
curl -s -o /dev/null http://127.0.0.1:18473/
kill $server; wait $server || true
# A credential read.
cat /etc/shadow > /dev/null
SCRIPT
"$LANNER" run --driver ptrace --syscalls "$DEFAULT_INTEREST,$RULES" --events-out "$OUT" \
    --alerts-out /dev/null -- sh "$WORK/workload.sh" "$WORK"
rm -rf "$WORK"
gzip -9nf "$OUT"
ls -l "$OUT.gz"
