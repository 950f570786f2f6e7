import cProfile, os, time
_pr = cProfile.Profile()
_t = time.perf_counter()
_pr.enable()
try:
    exec(compile(open("/work/main/streamlit_app.py").read(), "/work/main/streamlit_app.py", "exec"))
finally:
    _pr.disable()
    _n = int(os.environ.get("PROF_N", "0"))
    _pr.dump_stats(f"/tmp/prof/run{time.time():.0f}-{time.perf_counter()-_t:.2f}.prof")
