#!/usr/bin/python3
"""Watch seremotion results from Python (PyGObject only; nothing of ours is
imported or linked): bus messages and the SerEmotionMeta on buffers.

  seremotion_watch.py FILE              analyse a media file
  seremotion_watch.py --live            analyse the default microphone
  seremotion_watch.py --pipeline 'audiotestsrc num-buffers=100 ! seremotion name=ser ! fakesink'

Prints one JSON object per line:
  {"kind": "message", "start": s, "end": s, "emotion": ..., "confidence": ..., "speech": ..., "scores": {...}}
  {"kind": "meta", "buffer_pts": s, "start": s, ...}   (same fields, read from the buffer)
  {"kind": "summary", "emotion": ..., "windows": n, "speech_time": {label: s}}
  {"kind": "tags", "emotion": ..., "confidence": ...}
Options: --no-meta, --interval MS, --window MS, --model PATH, --seconds N (live: stop after N s).
"""
import argparse
import json
import os
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

NS = 1e-9


def scores_of(st):
    sc = st.get_value("scores")  # a Gst.Structure named "scores"
    out = {}
    if sc is not None:
        for i in range(sc.n_fields()):
            name = sc.nth_field_name(i)
            out[name] = round(sc.get_double(name)[1], 4)
    return out


def result_of(st):
    def u64(name):
        v = st.get_value(name)
        return int(v) if v is not None else None

    ts, dur = u64("timestamp"), u64("duration")
    return {
        "start": round(ts * NS, 4),
        "end": round((ts + dur) * NS, 4),
        "stream_time": round(u64("stream-time") * NS, 4),
        "running_time": round(u64("running-time") * NS, 4),
        "emotion": st.get_string("emotion"),
        "confidence": round(st.get_double("confidence")[1], 4),
        "speech": bool(st.get_boolean("speech")[1]),
        "scores": scores_of(st),
    }


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def build(args):
    props = []
    if args.interval:
        props.append("interval=%d" % (args.interval * 1000000))
    if args.window:
        props.append("window=%d" % (args.window * 1000000))
    if args.model:
        props.append('model="%s"' % args.model)
    ser = "seremotion name=ser " + " ".join(props)
    if args.pipeline:
        desc = args.pipeline
    elif args.live:
        desc = "autoaudiosrc ! audioconvert ! audioresample ! %s ! fakesink sync=false" % ser
    else:
        uri = Gst.filename_to_uri(os.path.abspath(args.file))
        desc = "uridecodebin uri=%s ! audioconvert ! audioresample ! %s ! fakesink sync=false" % (uri, ser)
    return Gst.parse_launch(desc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file", nargs="?")
    ap.add_argument("--live", action="store_true")
    ap.add_argument("--pipeline")
    ap.add_argument("--no-meta", action="store_true")
    ap.add_argument("--interval", type=int, help="ms between windows")
    ap.add_argument("--window", type=int, help="window in ms")
    ap.add_argument("--model")
    ap.add_argument("--seconds", type=float, help="stop after this many seconds")
    args = ap.parse_args()
    if not (args.file or args.live or args.pipeline):
        ap.error("give a FILE, --live or --pipeline")
    if args.file and not os.path.exists(args.file):
        print("seremotion_watch: %s: no such file" % args.file, file=sys.stderr)
        return 2

    Gst.init(None)
    if Gst.ElementFactory.find("seremotion") is None:
        print("seremotion_watch: the seremotion element is not found (set GST_PLUGIN_PATH)", file=sys.stderr)
        return 2
    pipeline = build(args)
    ser = pipeline.get_by_name("ser")
    if ser is None:
        print("seremotion_watch: the pipeline needs an element named 'ser'", file=sys.stderr)
        return 1

    if not args.no_meta:
        def probe(pad, info):
            buf = info.get_buffer()
            # get_custom_meta() returns the first SerEmotionMeta of the buffer
            # (a long buffer can carry several: one per window it completes).
            cm = buf.get_custom_meta("SerEmotionMeta")
            if cm is not None:
                r = result_of(cm.get_structure())
                r["kind"] = "meta"
                r["buffer_pts"] = round(buf.pts * NS, 4)
                emit(r)
            return Gst.PadProbeReturn.OK

        ser.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe)

    def tag_probe(pad, info):
        ev = info.get_event()
        if ev.type == Gst.EventType.TAG:
            tl = ev.parse_tag()
            ok, emo = tl.get_string("emotion")
            if ok:
                okc, conf = tl.get_double("emotion-confidence")
                emit({"kind": "tags", "emotion": emo, "confidence": round(conf, 4) if okc else None})
        return Gst.PadProbeReturn.OK

    ser.get_static_pad("src").add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, tag_probe)

    loop = GLib.MainLoop()
    status = {"code": 0}

    def on_message(bus, msg):
        t = msg.type
        if t == Gst.MessageType.ELEMENT and msg.src == ser:
            st = msg.get_structure()
            if st.get_name() == "seremotion":
                r = result_of(st)
                r["kind"] = "message"
                emit(r)
            elif st.get_name() == "seremotion-summary":
                times = st.get_value("speech-time")
                ok = times is not None
                emit({
                    "kind": "summary",
                    "emotion": st.get_string("emotion"),
                    "windows": int(st.get_value("windows")),
                    "speech_time": {times.nth_field_name(i): round(int(times.get_value(times.nth_field_name(i))) * NS, 3)
                                    for i in range(times.n_fields())} if ok else {},
                })
        elif t == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            print("seremotion_watch: error: %s" % err.message, file=sys.stderr)
            status["code"] = 2
            loop.quit()
        elif t == Gst.MessageType.EOS:
            loop.quit()
        return True

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    if args.seconds:
        GLib.timeout_add(int(args.seconds * 1000), lambda: (pipeline.send_event(Gst.Event.new_eos()), False)[1])
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        # the error message on the bus says why (e.g. a bad model file)
        msg = bus.timed_pop_filtered(0, Gst.MessageType.ERROR)
        if msg:
            print("seremotion_watch: error: %s" % msg.parse_error()[0].message, file=sys.stderr)
        pipeline.set_state(Gst.State.NULL)
        return 2
    try:
        loop.run()
    except KeyboardInterrupt:
        pass
    pipeline.set_state(Gst.State.NULL)
    return status["code"]


if __name__ == "__main__":
    sys.exit(main())
