"""Entry point of a pooled worker process (started by the raylet)."""
import argparse
import os
import signal
import sys


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--raylet-socket", required=True)
    parser.add_argument("--store-socket", required=True)
    parser.add_argument("--gcs-address", required=True)
    parser.add_argument("--node-id", required=True)
    parser.add_argument("--session-dir", required=True)
    parser.add_argument("--raylet-pid", type=int, default=0)
    parser.add_argument("--node-ip", default="127.0.0.1")
    # Set by the raylet for a worker of a runtime environment (TaskSpec.runtime_env).
    parser.add_argument("--runtime-env", default=None)
    parser.add_argument("--runtime-env-file", default=None)
    args = parser.parse_args(argv)
    env, env_error = {}, None
    if args.runtime_env_file:
        try:
            with open(args.runtime_env_file) as f:
                args.runtime_env = f.read()
        except OSError as e:
            env_error = "runtime_env setup failed: cannot read %s: %s" % (args.runtime_env_file, e)
    if args.runtime_env and env_error is None:
        # Before the core worker exists: a pip environment re-executes this
        # process with the venv's python (same pid) and comes back here.
        from lumos._private.runtime_env import worker_setup
        env, env_error = worker_setup.apply(args.runtime_env, args.session_dir)

    from lumos import _raylet
    from lumos._private import worker
    from lumos._private.function_manager import FunctionLoader
    from lumos._private.log_forwarding import LineForwarder
    from lumos._private.task_execution import TaskExecutor

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the driver
    from lumos._private import auth
    _raylet.set_cluster_identity(auth.require(session_dir=args.session_dir, what="a worker"), args.node_ip)
    cw = _raylet.CoreWorker(False, args.raylet_socket, args.store_socket, args.gcs_address,
                            args.session_dir, b"", args.raylet_pid)
    state = worker.global_state()
    state.core_worker = cw
    state.epoch += 1
    state.mode = worker.WORKER_MODE
    state.gcs = _raylet.GcsClient(args.gcs_address)
    state.gcs_address = args.gcs_address
    state.node_ip = args.node_ip
    state.session_dir = args.session_dir
    if args.runtime_env:
        state.runtime_env = env
        state.runtime_env_json = args.runtime_env.encode()  # exactly the spec's: children inherit it

    from lumos._private import stack_dump, worker_logs
    log_dir = os.path.join(args.session_dir, "logs")
    worker_logs.rename_own_logs(log_dir, cw.worker_id)
    stack_dump.start_listener(args.session_dir, log_dir, "Python stacks of lumos worker pid %d (worker id %s)"
                              % (os.getpid(), cw.worker_id))
    out = LineForwarder(cw, sys.stdout, is_err=False, node_ip=args.node_ip)
    err = LineForwarder(cw, sys.stderr, is_err=True, node_ip=args.node_ip)
    sys.stdout, sys.stderr = out, err
    def kill_self(actor_id, why):
        cw.flush_replies()  # earlier calls' replies must leave before the process does
        state.gcs.kill_actor(actor_id, True, why)

    if env_error is None and env.get("worker_process_setup_hook"):
        # runtime_env's hook: once per worker, connected, before any task.
        from lumos._private.runtime_env import worker_setup
        env_error = worker_setup.run_setup_hook(env["worker_process_setup_hook"], state.gcs)
    executor_class = TaskExecutor
    if env_error is not None:
        from lumos._private.task_execution import EnvSetupFailedExecutor as executor_class
        print(env_error, file=sys.__stderr__, flush=True)
    env_paths = ([env["working_dir"]] if env.get("working_dir") else []) + env.get("py_modules", [])
    loader = FunctionLoader(state.gcs, state.job_namespaces, keep_first=env_paths)
    executor = executor_class(loader, state, forwarders=(out, err),
                              request_exit=cw.request_exit, kill_self=kill_self)
    if env_error is not None:
        executor.setup_error = env_error
    _raylet.set_task_executor(executor)

    def on_cancel(signum, frame):
        # Sent by the core worker on a CANCEL_TASK; act only if that task is
        # still the one running here.
        target = cw.take_cancel_target()
        if target:
            executor.mark_cancelled(target)   # get_runtime_context().is_canceled()
        if not target or executor.cancel_async(target):
            return
        if target == executor.running_task_id:
            raise KeyboardInterrupt("task cancelled")
        executor.cancel_before_start = target  # its __call__ has not begun yet
    signal.signal(signal.SIGUSR1, on_cancel)
    try:
        cw.run_task_loop()
    finally:
        out.flush()
        err.flush()
        try:
            os.unlink(stack_dump.fifo_path(args.session_dir, os.getpid()))
        except OSError:
            pass
        state.core_worker = None
        cw.shutdown()
    # Skip interpreter teardown: nothing left to flush, and it costs time.
    sys.__stdout__.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
