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
    args = parser.parse_args(argv)

    from lumos import _raylet
    from lumos._private import worker
    from lumos._private.function_manager import FunctionLoader
    from lumos._private.log_forwarding import LineForwarder
    from lumos._private.task_execution import TaskExecutor

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the driver
    cw = _raylet.CoreWorker(False, args.raylet_socket, args.store_socket, args.gcs_address,
                            args.session_dir, b"", args.raylet_pid)
    state = worker.global_state()
    state.core_worker = cw
    state.epoch += 1
    state.mode = worker.WORKER_MODE
    state.gcs = _raylet.GcsClient(args.gcs_address)
    state.gcs_address = args.gcs_address
    state.session_dir = args.session_dir

    out = LineForwarder(cw, sys.stdout, is_err=False)
    err = LineForwarder(cw, sys.stderr, is_err=True)
    sys.stdout, sys.stderr = out, err
    def kill_self(actor_id, why):
        cw.flush_replies()  # earlier calls' replies must leave before the process does
        state.gcs.kill_actor(actor_id, True, why)

    executor = TaskExecutor(FunctionLoader(state.gcs, state.job_namespaces), state, forwarders=(out, err),
                            request_exit=cw.request_exit, kill_self=kill_self)
    _raylet.set_task_executor(executor)

    def on_cancel(signum, frame):
        # Sent by the core worker on a CANCEL_TASK; act only if that task is
        # still the one running here.
        target = cw.take_cancel_target()
        if not target or executor.cancel_async(target):
            return
        if target == executor.running_task_id:
            raise KeyboardInterrupt("task cancelled")
    signal.signal(signal.SIGUSR1, on_cancel)
    try:
        cw.run_task_loop()
    finally:
        out.flush()
        err.flush()
        state.core_worker = None
        cw.shutdown()
    # Skip interpreter teardown: nothing left to flush, and it costs time.
    sys.__stdout__.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
