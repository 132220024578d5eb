#!/bin/sh
# Copies the frozen graphs listed in examples.txt, with their inputs and
# TensorFlow's recorded outputs, from a git clone of
# KonduitAI/dl4j-test-resources (Apache-2.0) at the commit named in
# ../README.md:
#
#	sh copy.sh /path/to/dl4j-test-resources/.git
#
# For each example directory it takes frozen_model.pb, every
# <placeholder>.placeholder.{csv,shape} (the values fed) and every
# <node>.prediction.{csv,shape} (TensorFlow's output of that node); the
# per-node intermediate dumps (*prediction_inbw*) are left out.
set -eu
repo=$1
rev=e95182762844cb67d575997c048e6b6f45a9e7b5
base=src/main/resources/tf_graphs/examples
here=$(cd "$(dirname "$0")" && pwd)
git --git-dir="$repo" show "$rev:LICENSE" > "$here/LICENSE"
all=$(git --git-dir="$repo" ls-tree -r --name-only "$rev" "$base")
while read -r ex; do
	printf '%s\n' "$all" | grep "^$base/$ex/" | while read -r path; do
		rest=${path#"$base/$ex/"}
		# a file of a nested example directory belongs to that example
		case $rest in */frozen_model.pb) continue ;; esac
		sub=${rest%/*}
		if [ "$sub" != "$rest" ] && printf '%s\n' "$all" | grep -qx "$base/$ex/$sub/frozen_model.pb"; then continue; fi
		case $rest in
		*inbw*) continue ;;
		frozen_model.pb | *.placeholder.csv | *.placeholder.shape | *.prediction.csv | *.prediction.shape) ;;
		*) continue ;;
		esac
		mkdir -p "$here/$ex/$(dirname "$rest")"
		git --git-dir="$repo" show "$rev:$path" > "$here/$ex/$rest"
	done
done < "$here/examples.txt"

# mnist_00, a softmax regression trained on MNIST, is recorded on 100
# images (900 KB); keep the first 8 images and their 8 outputs.
ex=mnist_00
mkdir -p "$here/$ex"
git --git-dir="$repo" show "$rev:$base/$ex/frozen_model.pb" > "$here/$ex/frozen_model.pb"
git --git-dir="$repo" show "$rev:$base/$ex/input.placeholder.csv" | head -n $((8 * 784)) > "$here/$ex/input.placeholder.csv"
printf '8\n784\n' > "$here/$ex/input.placeholder.shape"
git --git-dir="$repo" show "$rev:$base/$ex/output.prediction.csv" | head -n 80 > "$here/$ex/output.prediction.csv"
printf '8\n10\n' > "$here/$ex/output.prediction.shape"
