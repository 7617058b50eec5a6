#!/usr/bin/python3
"""Threads, subprocess, multiprocessing (fork and spawn), signal.alarm and
sqlite3 on a tmpfs. Prints only what is the same on every correct kernel."""
import multiprocessing as mp
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time


def threads():
    results = queue.Queue()
    lock = threading.Lock()
    counter = [0]
    barrier = threading.Barrier(4)
    cond = threading.Condition()
    ready = []

    def work(i):
        barrier.wait()  # all four run at once (futexes)
        for _ in range(1000):
            with lock:
                counter[0] += 1
        results.put(i * i)
        with cond:
            ready.append(i)
            cond.notify_all()

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    with cond:
        cond.wait_for(lambda: len(ready) == 4)
    for t in ts:
        t.join()
    print("threads: counter", counter[0], "squares", sorted(results.get() for _ in ts))
    # A thread blocked in a pipe read wakes when the other end is written.
    r, w = os.pipe()
    got = []
    t = threading.Thread(target=lambda: got.append(os.read(r, 100)))
    t.start()
    os.write(w, b"ping")
    t.join()
    os.close(r)
    os.close(w)
    print("threads: pipe read", got[0].decode())


def subprocesses():
    out = subprocess.run(["/bin/echo", "hello", "from echo"], capture_output=True, text=True)
    print("subprocess: run", repr(out.stdout), out.returncode)
    p = subprocess.run(["/bin/sh", "-c", "cat; echo err >&2; exit 7"], input=b"stdin data\n",
                       capture_output=True)
    print("subprocess: sh", p.stdout, p.stderr, p.returncode)
    print("subprocess: check_output", subprocess.check_output("echo $((2+3)) | tr 5 V",
                                                              shell=True).decode().strip())
    # A pipeline between two children.
    p1 = subprocess.Popen(["seq", "1", "1000"], stdout=subprocess.PIPE)
    p2 = subprocess.Popen(["wc", "-l"], stdin=p1.stdout, stdout=subprocess.PIPE)
    p1.stdout.close()
    print("subprocess: pipeline", p2.communicate()[0].decode().strip(), p1.wait(), p2.wait())
    # A child killed by a signal, and a timeout that kills the child.
    p = subprocess.Popen(["sleep", "30"])
    p.send_signal(signal.SIGTERM)
    print("subprocess: killed", p.wait())
    try:
        subprocess.run(["sleep", "30"], timeout=0.3)
    except subprocess.TimeoutExpired:
        print("subprocess: timeout expired")
    try:
        subprocess.run(["/nonexistent/program"])
    except FileNotFoundError as e:
        print("subprocess: not found, errno", e.errno)
    # close_fds, pass_fds and a working directory.
    r, w = os.pipe()
    p = subprocess.run(["/bin/sh", "-c", f"echo via-fd >&{w}; pwd"], pass_fds=(w,), cwd="/",
                       capture_output=True, text=True)
    os.close(w)
    print("subprocess: pass_fds", os.read(r, 100).decode().strip(), p.stdout.strip())
    os.close(r)


def square(x):
    return x * x


def child_main(q, tag):
    q.put((tag, os.getpid() != os.getppid()))


def multiprocessing_with(method):
    ctx = mp.get_context(method)
    with ctx.Pool(2) as pool:
        print(f"multiprocessing {method}: pool", pool.map(square, range(8)))
    q = ctx.Queue()
    p = ctx.Process(target=child_main, args=(q, method))
    p.start()
    print(f"multiprocessing {method}: queue", q.get())
    p.join()
    print(f"multiprocessing {method}: exitcode", p.exitcode)
    p = ctx.Process(target=time.sleep, args=(30,))
    p.start()
    p.terminate()
    p.join()
    print(f"multiprocessing {method}: terminated", p.exitcode)
    parent, child = ctx.Pipe()
    p = ctx.Process(target=child.send, args=({"k": [1, 2, 3]},))
    p.start()
    print(f"multiprocessing {method}: pipe", parent.recv())
    p.join()


class Alarm(Exception):
    pass


def alarms():
    def on_alarm(signum, frame):
        raise Alarm()

    old = signal.signal(signal.SIGALRM, on_alarm)
    r, w = os.pipe()
    try:
        signal.alarm(1)
        # A blocking read interrupted by the signal: Python's handler runs and
        # raises (PEP 475 retries only when the handler returns). Should the
        # alarm come before the read starts, the handler raises all the same.
        os.read(r, 1)
        print("alarm: not interrupted")
    except Alarm:
        print("alarm: read interrupted by SIGALRM")
    finally:
        os.close(r)
        os.close(w)
    print("alarm: remaining after it fired", signal.alarm(0))
    signal.alarm(100)
    print("alarm: previous", signal.alarm(0) in (99, 100))
    # An interval timer's signal taken with sigwait (blocked first, so it
    # cannot arrive unhandled).
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    print("alarm: sigwait", signal.sigwait([signal.SIGALRM]) == signal.SIGALRM)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGALRM])
    signal.signal(signal.SIGALRM, old)
    # A signal sent to ourselves, handled in the main thread.
    got = []
    signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
    os.kill(os.getpid(), signal.SIGUSR1)
    print("signal: usr1 handled", got == [signal.SIGUSR1])


def sqlite_on(dirname):
    with tempfile.TemporaryDirectory(dir=dirname) as d:
        path = os.path.join(d, "test.db")
        db = sqlite3.connect(path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER)")
        with db:
            db.executemany("INSERT INTO t (name, n) VALUES (?, ?)",
                           [(f"row{i}", i * 7 % 13) for i in range(500)])
        db.execute("CREATE INDEX tn ON t (n)")
        # A second connection sees the committed rows (file locks, shared
        # memory for the WAL index).
        other = sqlite3.connect(path)
        print(f"sqlite {dirname}: count", other.execute("SELECT COUNT(*) FROM t").fetchone()[0])
        print(f"sqlite {dirname}: group",
              other.execute("SELECT n, COUNT(*) FROM t WHERE n < 3 GROUP BY n").fetchall())
        other.close()
        with db:
            db.execute("DELETE FROM t WHERE n > 5")
        db.execute("VACUUM")
        db.execute("PRAGMA journal_mode=DELETE")
        print(f"sqlite {dirname}: after delete",
              db.execute("SELECT COUNT(*), SUM(n) FROM t").fetchone())
        print(f"sqlite {dirname}: integrity", db.execute("PRAGMA integrity_check").fetchone()[0])
        db.close()


def main():
    sys.stdout.reconfigure(line_buffering=True)
    threads()
    subprocesses()
    for method in ("fork", "spawn"):
        multiprocessing_with(method)
    alarms()
    for d in ("/tmp", "/dev/shm"):
        sqlite_on(d)
    print("done")


if __name__ == "__main__":
    main()
