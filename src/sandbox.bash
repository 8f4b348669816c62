# bash completion for sandbox(1)                                   -*- shell-script -*-
#
# Installed as share/bash-completion/completions/sandbox, where bash-completion loads it the
# first time `sandbox` is completed; without bash-completion, source it from ~/.bashrc.
# Needs nothing but bash: no helper of the bash-completion package is used.

# The state directory the command line names, else the one sandbox would choose.
_sandbox_state_dir() {
    local i dir=
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            --) break ;;
            --state-dir)
                if [[ ${COMP_WORDS[i + 1]} == = ]]; then
                    dir=${COMP_WORDS[i + 2]}
                else
                    dir=${COMP_WORDS[i + 1]}
                fi
                ;;
        esac
    done
    if [[ -n $dir ]]; then
        # A leading ~ as the shell would expand it.
        [[ $dir == "~"* ]] && dir=$HOME${dir:1}
    elif [[ -n ${SANDBOX_STATE_DIR-} ]]; then
        dir=$SANDBOX_STATE_DIR
    elif ((EUID == 0)); then
        dir=/run/sandbox
    elif [[ -n ${XDG_RUNTIME_DIR-} && -O $XDG_RUNTIME_DIR ]]; then
        dir=$XDG_RUNTIME_DIR/sandbox
    else
        dir=/tmp/sandbox-$EUID
    fi
    printf '%s\n' "$dir"
}

# The sandboxes of the state directory: its directories with a valid name.
_sandbox_names() {
    local dir d n
    dir=$(_sandbox_state_dir)
    [[ -d $dir && -r $dir ]] || return
    for d in "$dir"/*/; do
        [[ -d $d ]] || continue
        n=${d%/}
        n=${n##*/}
        [[ $n =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] && printf '%s\n' "$n"
    done
}

_sandbox() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev= opt i
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    COMPREPLY=()

    # Options end at `--` or at the first word that is not an option (nor an option's value):
    # from there on the words are the command and its arguments.
    local takes_value=' --lower --name --state-dir --hostname --env --cwd --bind --ro-bind
        --dev-bind --device --tmpfs --net --cap-add --cap-drop --memory --pids --cpus --tmp-size
        --join --remove --stop --signal --user '
    local command_at=0
    i=1
    while ((i < COMP_CWORD)); do
        local w=${COMP_WORDS[i]}
        if [[ $w == [:=] ]]; then
            i=$((i + 2)) # the rest of a value the shell split at : or = (SRC:DST, KEY=VALUE)
        elif [[ $w == -- ]]; then
            command_at=$((i + 1))
            break
        elif [[ $w == -* ]]; then
            if [[ ${COMP_WORDS[i + 1]} == = ]]; then
                i=$((i + 3)) # --opt = value (the shell splits words at =)
            elif [[ $takes_value == *" $w "* ]]; then
                i=$((i + 2))
            else
                i=$((i + 1))
            fi
        else
            command_at=$i
            break
        fi
    done
    if ((command_at > 0)); then
        if ((COMP_CWORD == command_at)); then
            mapfile -t COMPREPLY < <(compgen -c -- "$cur" | sort -u)
        else
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        fi
        return
    fi

    # The option whose value is being completed: `--opt VALUE` or `--opt=VALUE`.
    opt=$prev
    if [[ $cur == = ]]; then
        cur=
        [[ $opt == --* ]] || return # KEY= of --env KEY=VALUE
    elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
        opt=${COMP_WORDS[COMP_CWORD - 2]}
        [[ $opt == --* ]] || return
    fi

    # After the `:` of SRC:DST, DST[:SIZE] or UID:GID: a value of the user's own.
    [[ $cur == : || $prev == : ]] && return

    case $opt in
        --lower | --state-dir | --cwd)
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -d -- "$cur")
            return
            ;;
        --bind | --ro-bind | --dev-bind)
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            return
            ;;
        --device)
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -f -- "${cur:-/dev/}")
            return
            ;;
        --name | --join | --remove | --stop)
            mapfile -t COMPREPLY < <(compgen -W "$(_sandbox_names)" -- "$cur")
            return
            ;;
        --signal)
            local sigs
            sigs=$(compgen -A signal)
            [[ $cur == [Ss][Ii][Gg]* ]] || sigs=${sigs//SIG/}
            mapfile -t COMPREPLY < <(compgen -W "$sigs" -- "$cur")
            return
            ;;
        --net)
            mapfile -t COMPREPLY < <(compgen -W 'none host' -- "$cur")
            return
            ;;
        --cap-add | --cap-drop)
            local caps='CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID
                SETPCAP LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK
                IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT
                SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL
                SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON
                BPF CHECKPOINT_RESTORE'
            [[ $cur == [Cc][Aa][Pp]_* ]] && caps=$(printf 'CAP_%s ' $caps)
            # Names in any case, as sandbox reads them; offered as capabilities(7) spells them.
            mapfile -t COMPREPLY < <(compgen -W all -- "${cur,,}"; compgen -W "$caps" -- "${cur^^}")
            return
            ;;
        --hostname | --env | --tmpfs | --memory | --pids | --cpus | --tmp-size | --user)
            return # a value of the user's own
            ;;
    esac

    if [[ $cur == -* || -z $cur ]]; then
        mapfile -t COMPREPLY < <(compgen -W '--lower --name --state-dir --keep --hostname --env
            --cwd --bind --ro-bind --dev-bind --device --tmpfs --read-only --net --cap-add
            --cap-drop --memory --pids --cpus --tmp-size --user --join --list --json --remove
            --stop --signal --timings --help --version' -- "$cur")
        return
    fi
    # The first word that is not an option starts the command.
    mapfile -t COMPREPLY < <(compgen -c -- "$cur" | sort -u)
}

complete -F _sandbox sandbox
