#!/usr/bin/env bash
# A full disk, end to end: linflow writes into a small tmpfs mounted for the test in a private mount namespace
# (`unshare -rm`: a user and mount namespace, no root needed; `unshare -m` as root), gone when the test ends.
#
#   full_disk.sh train CLI CONFIG OUT             a finished run, then reruns into its folder whose outputs do not fit
#                                                 (a long trajectory; a layer larger than the disk) and a run into a
#                                                 new folder: each exits 2 with one line naming the file, leaves no
#                                                 *.tmp and no file under a final name, and the finished run survives
#                                                 byte for byte.
#   full_disk.sh sweep CLI SWEEP REFERENCE OUT    a sweep whose runs.jsonl fills the disk (the journal, then the final
#                                                 rewrite): one line naming runs.jsonl, exit 2, a journal of whole lines
#                                                 of REFERENCE (the clean sweep's runs.jsonl) only; once space is freed,
#                                                 --resume writes REFERENCE byte for byte.
#
# What README.md's Reliability section promises for "a write fails (full disk, quota)". Exit 77 (CTest's
# SKIP_RETURN_CODE), with the reason printed, where no tmpfs can be mounted (no user namespaces, no root).
set -u
mode=$1 cli=$2
expect=$(dirname "$(readlink -f "$0")")/expect.sh
out=${!#}

if [ -z "${LINFLOW_FULL_DISK_NS:-}" ]; then
  for flags in -rm -m; do
    if unshare "$flags" true 2>/dev/null; then
      LINFLOW_FULL_DISK_NS=1 exec unshare "$flags" bash "$0" "$@"
    fi
  done
  echo "SKIP: cannot enter a mount namespace here (unshare -rm and unshare -m are refused), so no tmpfs to fill"
  exit 77
fi

page=$(getconf PAGESIZE)
if [ "$page" -ne 4096 ]; then
  echo "SKIP: the disk sizes below are counted in 4 KiB pages; this machine's page size is $page"
  exit 77
fi
disk=$out/disk
rm -rf "$out"
mkdir -p "$disk"
# mount_disk SIZE: a fresh, empty tmpfs of SIZE bytes on $disk.
mount_disk() {
  mountpoint -q "$disk" && umount "$disk"
  if ! mount -t tmpfs -o "size=$1" tmpfs "$disk" 2>"$out/mount.err"; then
    echo "SKIP: cannot mount a tmpfs in a mount namespace: $(cat "$out/mount.err")"
    exit 77
  fi
}
fail() {
  echo "FAIL: $*"
  exit 1
}
no_temporaries() {
  local left
  left=$(find "$disk" -name '*.tmp')
  [ -z "$left" ] || fail "$1 left temporaries: $left"
}

set -e
case $mode in
  train)
    config=$3
    mount_disk $((64 * page))
    "$cli" train -q -c "$config" -o "$disk/run"
    cp -a "$disk/run" "$out/finished"
    # The trajectory does not fit: it fails while the run goes (trajectory.csv.tmp), before anything else is written.
    "$expect" 2 "/run/trajectory.csv.tmp: write failed" \
      "$cli" train -q -c "$config" -o "$disk/run" --set output.samples_log=40000
    diff -r "$out/finished" "$disk/run" || fail "the long trajectory changed the finished run"
    no_temporaries "the long trajectory"
    # The trajectory fits, the second layer (200 x 200 doubles, 313 KiB) does not: it fails after the run, while its
    # files are put in place.
    "$expect" 2 "/run/weights/W2.npy.tmp: write failed: No space left on device" \
      "$cli" train -q -c "$config" -o "$disk/run" --set 'network.widths=[3,200,200,3]'
    diff -r "$out/finished" "$disk/run" || fail "the large layer changed the finished run"
    no_temporaries "the large layer"
    "$expect" 2 "/new/weights/W2.npy.tmp: write failed: No space left on device" \
      "$cli" train -q -c "$config" -o "$disk/new" --set 'network.widths=[3,200,200,3]'
    left=$(find "$disk/new" -type f)
    [ -z "$left" ] || fail "a run that could not write its files left some: $left"
    ;;
  sweep)
    sweep=$3 reference=$4
    # Two pages: sweep.json (1.7 KB) and one page of journal, which holds 6 of the 12 lines (579 to 680 bytes each),
    # whatever the order the 2 threads finish them in.
    mount_disk $((2 * page))
    "$expect" 2 "/sweep/runs.jsonl: write failed: No space left on device" \
      "$cli" sweep -q -c "$sweep" -o "$disk/sweep" -j 2
    journal=$disk/sweep/runs.jsonl
    [ "$(tail -c 1 "$journal" | od -An -c | tr -d ' ')" = '\n' ] || fail "the journal ends in a partial line"
    [ "$(wc -l <"$journal")" -eq 6 ] || fail "the journal holds $(wc -l <"$journal") lines, 6 fit"
    while IFS= read -r line; do
      grep -Fxq -- "$line" "$reference" || fail "a journal line is not a line of the clean sweep: $line"
    done <"$journal"
    no_temporaries "the full journal"
    cp -a "$disk/sweep" "$out/cut"
    # Three pages: the whole journal fits (7.5 KB in two), the sorted runs.jsonl that replaces it does not.
    mount_disk $((3 * page))
    cp -a "$out/cut/." "$disk/sweep/"
    "$expect" 2 "/sweep/runs.jsonl.tmp: write failed: No space left on device" \
      "$cli" sweep -q -c "$sweep" -o "$disk/sweep" -j 2 --resume
    [ "$(wc -l <"$journal")" -eq 12 ] || fail "the complete journal holds $(wc -l <"$journal") lines"
    no_temporaries "the final rewrite"
    # Space freed: --resume finishes what is on disk into the clean sweep's bytes.
    mount -o remount,size=$((256 * page)) "$disk"
    "$expect" 0 '\(0 run now, 12 resumed\)' "$cli" sweep -c "$sweep" -o "$disk/sweep" -j 2 --resume
    cmp "$journal" "$reference" || fail "the resumed runs.jsonl differs from the clean sweep's"
    # And from the journal of the first failure, cut at 6 lines.
    cp -a "$out/cut" "$disk/again"
    "$expect" 0 '\(6 run now, 6 resumed\)' "$cli" sweep -c "$sweep" -o "$disk/again" -j 2 --resume
    cmp "$disk/again/runs.jsonl" "$reference" || fail "the runs.jsonl resumed after the first failure differs"
    ;;
  *)
    fail "unknown mode $mode"
    ;;
esac
echo "PASS"
