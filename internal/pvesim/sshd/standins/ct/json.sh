# shellcheck shell=bash
# json_driver TEXT: when TEXT is one JSON object (RFC 8259, and nothing
# after it) whose "storage-driver" member is absent or a plain string, sets
# JSON_DRIVER to that string (overlay2 when absent) and returns 0. Returns 1
# for anything else, and for what this reader leaves to jq: a key or the
# driver with an escape, a driver that is not printable ASCII, control
# bytes or DEL in a string, a \uD800-\uDBFF escape anywhere (jq 1.6
# rejects a lone one), nesting deeper than 64 (jq 1.6 stops at 256), the
# key twice, more than 4 KiB or 512 tokens (the loop copies what is left
# at each token, so its time grows with both: about 20 ms at these
# bounds). It accepts nothing jq rejects, so a caller can ask jq only when
# it returns 1: dockerd reads /etc/docker/daemon.json on every check, and
# one jq run costs more than this whole loop over a usual file. Bytes, not
# characters (LC_ALL=C). No subshell, no other command.
json_driver() {
	local LC_ALL=C s=$1 stack="" expect=value key="" n=0 found=0 t
	local ws=$'^[ \t\n\r]+'
	local str='^"([^"\[:cntrl:]]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"'
	local num='^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?'
	local lit='^(true|false|null)'
	JSON_DRIVER=overlay2
	((${#s} <= 4096)) || return 1
	[[ $s == '{'* || $s =~ $ws'{' ]] || return 1
	while :; do
		((++n <= 512)) || return 1
		[[ $s =~ $ws ]] && s=${s:${#BASH_REMATCH[0]}}
		[[ -n $s ]] || break
		case $expect in
		end) return 1 ;;
		colon)
			[[ $s == :* ]] || return 1
			s=${s:1} expect=value
			continue
			;;
		more)
			case ${s:0:1}${stack: -1} in
			',{') expect=key ;;
			',[') expect=value ;;
			'}{' | '][') stack=${stack:0:${#stack}-1} expect=more ;;
			*) return 1 ;;
			esac
			s=${s:1}
			[[ -n $stack || $expect != more ]] || expect=end
			continue
			;;
		key | key-or-close)
			if [[ $expect == key-or-close && $s == '}'* ]]; then
				s=${s:1} stack=${stack:0:${#stack}-1} expect=more
				[[ -n $stack ]] || expect=end
				continue
			fi
			[[ $s =~ $str ]] || return 1
			t=${BASH_REMATCH[0]}
			[[ $t != *\\u[dD][89abAB]* ]] || return 1
			s=${s:${#t}} expect=colon key=""
			if [[ $stack == '{' ]]; then
				[[ $t != *\\* ]] || return 1
				key=${t:1:${#t}-2}
			fi
			continue
			;;
		esac
		# A value (expect is value or value-or-close).
		if [[ $expect == value-or-close && $s == ']'* ]]; then
			s=${s:1} stack=${stack:0:${#stack}-1} expect=more
			[[ -n $stack ]] || expect=end
			continue
		fi
		if [[ $key == storage-driver ]]; then
			((found == 0)) || return 1
			found=1
			[[ $s =~ $str ]] || return 1
			t=${BASH_REMATCH[0]}
			[[ $t =~ ^\"[\ -~]*\"$ && $t != *\\* ]] || return 1
			JSON_DRIVER=${t:1:${#t}-2}
		fi
		key=""
		case ${s:0:1} in
		'{' | '[')
			((${#stack} < 64)) || return 1
			stack+=${s:0:1}
			expect=key-or-close
			[[ $s == '['* ]] && expect=value-or-close
			s=${s:1}
			;;
		*)
			if [[ $s =~ $str || $s =~ $num || $s =~ $lit ]]; then
				[[ ${BASH_REMATCH[0]} != *\\u[dD][89abAB]* ]] || return 1
				s=${s:${#BASH_REMATCH[0]}} expect=more
				[[ -n $stack ]] || expect=end
			else
				return 1
			fi
			;;
		esac
	done
	[[ $expect == end ]]
}

# json_file_driver FILE: json_driver on FILE, read in one builtin: a NUL
# byte splits it (jq's to judge), and a file of NULs (sparse, any size)
# stops the read at the second part. JSON_TEXT is the text before the
# first NUL.
json_file_driver() {
	local parts=()
	mapfile -d '' -n 2 parts <"$1"
	JSON_TEXT=${parts[0]-}
	((${#parts[@]} <= 1)) && json_driver "$JSON_TEXT"
}
