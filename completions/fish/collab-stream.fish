# fish completion for collab-stream(8).
# Configuration keys are asked from the installed collab-admin (`collab-admin __complete keys`).

# "section.key=" for every key; fish adds no space after a completion that ends in "=".
function __collab_keys
    command -q collab-admin; or return
    for k in (collab-admin __complete keys 2>/dev/null)
        printf '%s=\n' $k
    end
end

complete -c collab-stream -f

# -c, --config FILE
complete -c collab-stream -s c -l config -r -F -d 'Read the configuration from FILE'
# -o, --option KEY=VALUE
complete -c collab-stream -s o -l option -x -a '(__collab_keys)' -d 'Override one configuration key'
# -t, --check-config
complete -c collab-stream -s t -l check-config -d 'Validate the configuration and exit'
# -T, --dump-config
complete -c collab-stream -s T -l dump-config -d 'Print the effective configuration and exit'
# -v, --verbose
complete -c collab-stream -s v -l verbose -d 'Log more (repeatable)'
# --version
complete -c collab-stream -l version -d 'Print the version and exit'
# -h, --help
complete -c collab-stream -s h -l help -d 'Print a summary of the options and exit'
