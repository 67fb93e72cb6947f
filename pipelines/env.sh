# Sourced by the pipeline scripts: finds the build (SER_BUILD_ROOT, default
# ./build) so that gst-launch-1.0 sees the seremotion element without
# installing it. An installed plugin is used when no build is found.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${SER_BUILD_ROOT:-$root/build}
if [ -d "$build/gst-plugin" ]; then
  export GST_PLUGIN_PATH="$build/gst-plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
fi
SEREMOTION_APP="$build/pipelines/seremotion-app"
