#!/usr/bin/env bash
# Makes the labelled set `r2plus1d eval` is tested on (run once; the outputs are committed), then
# tools/eval_reference.py writes what torchvision makes of it.
# Usage: bash tools/make_eval_fixtures.sh   (ffmpeg with libx264 and libvpx)
#
# Tests/EvaluationTests/Fixtures/kinetics/<class>/<video>: four classes of the tiny test network's labels
# (eval_labels.txt), with folder names spelled the ways real Kinetics copies spell them (underscores, case,
# parentheses), 2-3 synthetic videos each: different patterns, sizes, frame rates and durations (one shorter than
# a clip, one in WebM/VP9), and one file that is not a video at all (it must be reported, never fatal).
set -euo pipefail
cd "$(dirname "$0")/../Tests/EvaluationTests/Fixtures"
rm -rf kinetics
mkdir -p kinetics/playing_cricket kinetics/Tai_Chi "kinetics/riding a bike" "kinetics/passing_American_football_(in_game)"
x264=(-c:v libx264 -preset veryfast -crf 32 -bf 0 -g 15 -pix_fmt yuv420p -an -movflags +faststart)
make() { ffmpeg -y -loglevel error -nostdin -f lavfi -i "$1" -t "$2" "${@:4}" "kinetics/$3"; }
make "testsrc2=size=160x120:rate=15" 2.4 playing_cricket/a.mp4 "${x264[@]}"
make "smptebars=size=176x144:rate=25" 1.6 playing_cricket/b.mp4 "${x264[@]}"
make "mandelbrot=size=128x96:rate=10" 3.0 playing_cricket/c.mp4 "${x264[@]}"
make "rgbtestsrc=size=160x90:rate=15" 2.0 Tai_Chi/a.mp4 "${x264[@]}"
make "life=size=128x128:rate=15:mold=10:ratio=0.3:death_color=#C83232:life_color=#00ff00" 2.2 Tai_Chi/b.mp4 "${x264[@]}"
make "cellauto=size=160x120:rate=12:rule=110" 0.8 Tai_Chi/c.mp4 "${x264[@]}"
make "gradients=size=144x112:rate=15:speed=0.05" 2.0 "riding a bike/a.mp4" "${x264[@]}"
make "testsrc2=size=120x160:rate=20,hue=h=90" 1.8 "riding a bike/b.webm" -c:v libvpx-vp9 -b:v 200k -deadline realtime -cpu-used 8 -pix_fmt yuv420p -an
make "smptebars=size=200x150:rate=15,negate" 2.0 "passing_American_football_(in_game)/a.mp4" "${x264[@]}"
make "mandelbrot=size=160x120:rate=15:start_scale=0.5" 2.6 "passing_American_football_(in_game)/b.mp4" "${x264[@]}"
# Looks like an MP4 by name only.
printf 'not a video: the evaluation must list this file as failed and carry on\n' >"kinetics/riding a bike/broken.mp4"
du -sh kinetics
