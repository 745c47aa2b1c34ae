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

# True when the command line is `collab-stream publish ...`.
function __collab_stream_publishing
    set -l tokens (commandline -opc)
    test (count $tokens) -ge 2; and test $tokens[2] = publish
end

# The client mode: publish [options] NAME INPUT.
complete -c collab-stream -n 'test (count (commandline -opc)) -eq 1' -a publish -d 'Push a file, device or URL into the local collab-stream'
complete -c collab-stream -n __collab_stream_publishing -l loop -d 'Play the file over and over'
complete -c collab-stream -n __collab_stream_publishing -l key -x -d 'Publisher key'
complete -c collab-stream -n __collab_stream_publishing -l transcode -x -a 'auto always never' -d 'When to encode'
complete -c collab-stream -n __collab_stream_publishing -F -d 'Input file'

# -c, --config FILE
complete -c collab-stream -s c -l config -r -F -d 'Read the configuration from FILE'
# -o, --option KEY=VALUE
complete -c collab-stream -s o -l option -x -a '(__collab_keys)' -d 'Override one configuration key'
# -t, --check-config
complete -c collab-stream -n 'not __collab_stream_publishing' -s t -l check-config -d 'Validate the configuration and exit'
# -T, --dump-config
complete -c collab-stream -n 'not __collab_stream_publishing' -s T -l dump-config -d 'Print the effective configuration and exit'
# -v, --verbose
complete -c collab-stream -s v -l verbose -d 'Log more (repeatable)'
# --version
complete -c collab-stream -l version -d 'Print the version and exit'
# -h, --help
complete -c collab-stream -s h -l help -d 'Print a summary of the options and exit'
