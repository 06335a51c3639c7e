"""Part 5: free-threaded Python in practice. Run by the interpreter under test.

`status`: which build this is and whether the GIL is on, under PYTHON_GIL and -X gil.
`modules DIR`: compile gilmod.c three ways with cc against this interpreter's own headers,
import each in a fresh interpreter, and race two threads on its shared counter.
Prints one JSON line.
"""
import json
import os
import subprocess
import sys
import sysconfig

HERE = os.path.dirname(os.path.abspath(__file__))
BUMPS = 8_000_000

CHILD = """
import importlib, json, sys, threading
gil = getattr(sys, "_is_gil_enabled", lambda: True)
before = gil()
module = importlib.import_module(sys.argv[1])
after = gil()
threads = [threading.Thread(target=module.bump, args=(%d,)) for _ in range(2)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"before": before, "after": after, "total": module.total()}))
""" % BUMPS


def run(args, env=None):
    done = subprocess.run([sys.executable] + args, capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, **(env or {})))
    return done


def status():
    rows = []
    for how, args, env in [("default", [], {}),
                           ("PYTHON_GIL=1", [], {"PYTHON_GIL": "1"}),
                           ("PYTHON_GIL=0", [], {"PYTHON_GIL": "0"}),
                           ("-X gil=1", ["-X", "gil=1"], {}),
                           ("-X gil=0", ["-X", "gil=0"], {})]:
        code = "import sys; print(getattr(sys, '_is_gil_enabled', lambda: None)())"
        done = run(args + ["-c", code], env)
        said = (done.stdout.strip() or (done.stderr.strip().splitlines() or [""])[0])
        rows.append({"how": how, "status": done.returncode, "said": said[:120]})
    return {"version": sys.version.split()[0],
            "free_threaded": sysconfig.get_config_var("Py_GIL_DISABLED") == 1,
            "has_is_gil_enabled": hasattr(sys, "_is_gil_enabled"),
            "rows": rows}


def modules(out):
    include = sysconfig.get_paths()["include"]
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    cases = [("undeclared", [], {}),
             ("declared", ["-DDECLARE_NOT_USED"], {}),
             ("ready", ["-DDECLARE_NOT_USED", "-DOWN_LOCK"], {}),
             ("undeclared", [], {"PYTHON_GIL": "0"})]
    rows = []
    for name, flags, env in cases:
        target = os.path.join(out, name + suffix)
        if not os.path.exists(target):
            cc = ["cc", "-shared", "-fPIC", "-O2", "-I", include, "-DMODULE=" + name] + flags
            cc += [os.path.join(HERE, "gilmod.c"), "-o", target]
            built = subprocess.run(cc, capture_output=True, text=True, timeout=60)
            if built.returncode != 0:
                return {"error": "cc failed: " + (built.stderr.strip().splitlines() or [""])[-1]}
        done = run(["-c", CHILD, name], dict(env, PYTHONPATH=out))
        warnings = [line.split("RuntimeWarning: ", 1)[1] for line in done.stderr.splitlines()
                    if "RuntimeWarning: " in line]
        row = {"module": name, "env": " ".join("%s=%s" % kv for kv in env.items()),
               "flags": flags, "status": done.returncode, "warning": warnings[0] if warnings
               else None, "expected": 2 * BUMPS}
        if done.returncode == 0:
            row.update(json.loads(done.stdout.strip().splitlines()[-1]))
        else:
            row["said"] = (done.stderr.strip().splitlines() or [""])[-1][:200]
        rows.append(row)
    return {"version": sys.version.split()[0], "rows": rows}


if __name__ == "__main__":
    if sys.argv[1] == "status":
        print(json.dumps(status()))
    else:
        print(json.dumps(modules(sys.argv[2])))
