# fish completion for collab-admin(8).
# Live values (areas, verbs, daemons, configuration keys) come from `collab-admin __complete KIND`;
# the lists written here are used only when that gives nothing.

# "section.key=" for every key; fish adds no space after a completion that ends in "=".
function __collab_keys
    command -q collab-admin; or return
    for k in (collab-admin __complete keys 2>/dev/null)
        printf '%s=\n' $k
    end
end

# Live values of KIND, or the remaining arguments when there are none.
function __collab_admin_values -a kind
    set -l vals
    command -q collab-admin; and set vals (collab-admin __complete $kind 2>/dev/null)
    test (count $vals) -gt 0; or set vals $argv[2..-1]
    printf '%s\n' $vals
end

# The words before the cursor that are neither options nor option values: area, verb, arguments.
function __collab_admin_words
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l skip 0
    for t in $tokens
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $t
            case -c --config -o --option --state-dir --run-dir --web-dir --key-file --dir --cn --cert --key \
                --name --department --email --role --ttl --kind --owner --member --topic --retention-days \
                --file-retention-days --read-only --mass-mention-role --as-of --limit --since --user --scope --agent
                set skip 1
            case '-*'
            case '*'
                printf '%s\n' $t
        end
    end
end

# True when the area (and verb, if given) is what the command line has so far; with "-n N",
# also when exactly N positional words follow them.
function __collab_admin_at
    set -l want_count -1
    if test "$argv[1]" = -n
        set want_count $argv[2]
        set -e argv[1..2]
    end
    set -l words (__collab_admin_words)
    test (count $words) -ge (count $argv); or return 1
    for i in (seq (count $argv))
        test "$words[$i]" = "$argv[$i]"; or return 1
    end
    test $want_count -lt 0; or test (math (count $words) - (count $argv)) -eq $want_count
end

function __collab_admin_no_area
    test (count (__collab_admin_words)) -eq 0
end

# Daemons not yet named on the command line.
function __collab_admin_daemons
    set -l named (__collab_admin_words)
    for d in (__collab_admin_values daemons chatd sfu stream)
        contains -- $d $named; or printf '%s\n' $d
    end
end

complete -c collab-admin -f

# Global options, before the area.
# -c, --config FILE
complete -c collab-admin -n __collab_admin_no_area -s c -l config -r -F -d 'Use FILE as the configuration file'
# -o, --option KEY=VALUE
complete -c collab-admin -n __collab_admin_no_area -s o -l option -x -a '(__collab_keys)' -d 'Override one configuration key'
# -v, --verbose
complete -c collab-admin -n __collab_admin_no_area -s v -l verbose -d 'Report more (repeatable)'
# --json
complete -c collab-admin -n __collab_admin_no_area -l json -d 'Print results as JSON'
# --version
complete -c collab-admin -n __collab_admin_no_area -l version -d 'Print the version and exit'
# -h, --help
complete -c collab-admin -n __collab_admin_no_area -s h -l help -d 'Print a summary of the options and areas and exit'

# Areas.
complete -c collab-admin -n __collab_admin_no_area -a '(__collab_admin_values areas init config status reload cert user room retention backup restore audit webhook helpdesk stream token)'

# init [--state-dir DIR] [--run-dir DIR] [--web-dir DIR] [--key-file FILE] [--force]
complete -c collab-admin -n '__collab_admin_at init' -l state-dir -x -a '(__fish_complete_directories)' -d 'Set paths.state_dir'
complete -c collab-admin -n '__collab_admin_at init' -l run-dir -x -a '(__fish_complete_directories)' -d 'Set paths.run_dir'
complete -c collab-admin -n '__collab_admin_at init' -l web-dir -x -a '(__fish_complete_directories)' -d 'Set paths.web_dir'
complete -c collab-admin -n '__collab_admin_at init' -l key-file -r -F -d 'Set auth.key_file'
complete -c collab-admin -n '__collab_admin_at init' -l force -d 'Replace an existing configuration file'

# config check | show [--non-default] | defaults
complete -c collab-admin -n '__collab_admin_at -n 0 config' -a '(__collab_admin_values verbs:config check show defaults)'
complete -c collab-admin -n '__collab_admin_at config show' -l non-default -d 'Print only keys that differ from the default'

# status [DAEMON...], reload DAEMON|all
complete -c collab-admin -n '__collab_admin_at status' -a '(__collab_admin_daemons)' -d Daemon
complete -c collab-admin -n '__collab_admin_at -n 0 reload' -a '(__collab_admin_daemons; echo all)' -d Daemon

# cert ca [--dir DIR] [--cn NAME] [--force]
# cert issue [--dir DIR] [--cert FILE] [--key FILE] HOST...
complete -c collab-admin -n '__collab_admin_at -n 0 cert' -a '(__collab_admin_values verbs:cert ca issue)'
complete -c collab-admin -n '__collab_admin_at cert ca' -l dir -x -a '(__fish_complete_directories)' -d 'Directory of the certificate authority'
complete -c collab-admin -n '__collab_admin_at cert ca' -l cn -x -d 'Common name of the authority'
complete -c collab-admin -n '__collab_admin_at cert ca' -l force -d 'Replace an existing authority'
complete -c collab-admin -n '__collab_admin_at cert issue' -l dir -x -a '(__fish_complete_directories)' -d 'Directory of the certificate authority'
complete -c collab-admin -n '__collab_admin_at cert issue' -l cert -r -F -d 'Where to write the certificate'
complete -c collab-admin -n '__collab_admin_at cert issue' -l key -r -F -d 'Where to write the private key'
complete -c collab-admin -n '__collab_admin_at cert issue' -a '(__fish_print_hostnames)' -d Host

# Live users and rooms of a running collab-chatd (nothing when it does not answer).
function __collab_admin_users
    __collab_admin_values users
end
function __collab_admin_rooms
    __collab_admin_values rooms
end
# Streams of a running collab-stream (nothing when it does not answer).
function __collab_admin_streams
    command -q collab-admin; or return
    collab-admin --json stream list 2>/dev/null | sed -n 's/.*[{,]"name":"\([^"]*\)".*/\1/p'
end

# user add [--name N] [--department D] [--email E] [--role ROLE] [--password-stdin|--no-password] ID
# user list | show ID | disable ID | enable ID | set-role ID ROLE | passwd [--password-stdin] ID
# user import FILE | token [--ttl SECONDS] ID | ldap-sync
complete -c collab-admin -n '__collab_admin_at -n 0 user' -a '(__collab_admin_values verbs:user add list show disable enable set-role passwd import token ldap-sync)'
complete -c collab-admin -n '__collab_admin_at user add' -l name -x -d 'Display name'
complete -c collab-admin -n '__collab_admin_at user add' -l department -x -d 'Department'
complete -c collab-admin -n '__collab_admin_at user add' -l email -x -d 'E-mail address'
complete -c collab-admin -n '__collab_admin_at user add' -l role -x -a 'user admin' -d 'Role'
complete -c collab-admin -n '__collab_admin_at user add' -l password-stdin -d 'Read the password from standard input'
complete -c collab-admin -n '__collab_admin_at user add' -l no-password -d 'No local password'
complete -c collab-admin -n '__collab_admin_at -n 0 user show; or __collab_admin_at -n 0 user disable; or __collab_admin_at -n 0 user enable; or __collab_admin_at -n 0 user set-role; or __collab_admin_at -n 0 user passwd; or __collab_admin_at -n 0 user token' -a '(__collab_admin_users)' -d User
complete -c collab-admin -n '__collab_admin_at -n 1 user set-role' -a 'user admin' -d Role
complete -c collab-admin -n '__collab_admin_at user passwd' -l password-stdin -d 'Read the password from standard input'
complete -c collab-admin -n '__collab_admin_at -n 0 user import' -r -F -d 'CSV file'
complete -c collab-admin -n '__collab_admin_at user token' -l ttl -x -d 'Lifetime in seconds'

# room create [--kind KIND] [--owner ID] [--member ID]... [--topic T] NAME
# room list | show ROOM | archive ROOM | unarchive ROOM | members add|remove ROOM ID... | set ROOM [...]
complete -c collab-admin -n '__collab_admin_at -n 0 room' -a '(__collab_admin_values verbs:room create list show archive unarchive members set)'
complete -c collab-admin -n '__collab_admin_at room create' -l kind -x -a 'public private announcement' -d 'Kind of room'
complete -c collab-admin -n '__collab_admin_at room create' -l owner -x -a '(__collab_admin_users)' -d 'Owner'
complete -c collab-admin -n '__collab_admin_at room create' -l member -x -a '(__collab_admin_users)' -d 'Add a member (repeatable)'
complete -c collab-admin -n '__collab_admin_at room create' -l topic -x -d 'Room topic'
complete -c collab-admin -n '__collab_admin_at -n 0 room show; or __collab_admin_at -n 0 room archive; or __collab_admin_at -n 0 room unarchive; or __collab_admin_at -n 0 room set' -a '(__collab_admin_rooms)' -d Room
complete -c collab-admin -n '__collab_admin_at -n 0 room members' -a '(__collab_admin_values verbs:members add remove)'
complete -c collab-admin -n '__collab_admin_at -n 0 room members add; or __collab_admin_at -n 0 room members remove' -a '(__collab_admin_rooms)' -d Room
complete -c collab-admin -n 'not __collab_admin_at -n 0 room members add; and __collab_admin_at room members add' -a '(__collab_admin_users)' -d User
complete -c collab-admin -n 'not __collab_admin_at -n 0 room members remove; and __collab_admin_at room members remove' -a '(__collab_admin_users)' -d User
complete -c collab-admin -n '__collab_admin_at room set' -l retention-days -x -d 'Days messages are kept (0 keeps, -1 default)'
complete -c collab-admin -n '__collab_admin_at room set' -l file-retention-days -x -d 'Days attachments are kept'
complete -c collab-admin -n '__collab_admin_at room set' -l read-only -x -a 'true false' -d 'Only moderators post'
complete -c collab-admin -n '__collab_admin_at room set' -l mass-mention-role -x -a 'member moderator owner' -d 'Lowest role that may use @all'

# webhook add ROOM --name NAME [--user ID] | list | remove ID
complete -c collab-admin -n '__collab_admin_at -n 0 webhook' -a '(__collab_admin_values verbs:webhook add list remove)'
complete -c collab-admin -n '__collab_admin_at webhook add' -l name -x -d 'Name shown for its posts'
complete -c collab-admin -n '__collab_admin_at webhook add' -l user -x -a '(__collab_admin_users)' -d 'Post as this account'

# helpdesk add ID [--name NAME] --agent ID... | list | stats [DESK]
complete -c collab-admin -n '__collab_admin_at -n 0 helpdesk' -a '(__collab_admin_values verbs:helpdesk add list stats)'
complete -c collab-admin -n '__collab_admin_at helpdesk add' -l name -x -d 'Name staff see'
complete -c collab-admin -n '__collab_admin_at helpdesk add' -l agent -x -a '(__collab_admin_users)' -d 'An agent (repeatable)'

# stream list | kick NAME | record NAME start|stop | recordings
complete -c collab-admin -n '__collab_admin_at -n 0 stream' -a '(__collab_admin_values verbs:stream list kick record recordings)'
complete -c collab-admin -n '__collab_admin_at -n 0 stream kick' -a '(__collab_admin_streams)' -d Stream
complete -c collab-admin -n '__collab_admin_at -n 0 stream record' -a '(__collab_admin_streams)' -d Stream
complete -c collab-admin -n '__collab_admin_at -n 1 stream record' -a 'start stop'

# retention apply [--dry-run] [--as-of DATE]
complete -c collab-admin -n '__collab_admin_at -n 0 retention' -a '(__collab_admin_values verbs:retention apply)'
complete -c collab-admin -n '__collab_admin_at retention apply' -l dry-run -d 'Only count what would be deleted'
complete -c collab-admin -n '__collab_admin_at retention apply' -l as-of -x -d 'Pretend it is DATE (YYYY-MM-DD or RFC 3339)'

# backup DEST, restore [--force] SRC
complete -c collab-admin -n '__collab_admin_at -n 0 backup' -x -a '(__fish_complete_directories)' -d 'New backup directory'
complete -c collab-admin -n '__collab_admin_at -n 0 restore' -x -a '(__fish_complete_directories)' -d 'Backup directory'
complete -c collab-admin -n '__collab_admin_at restore' -l force -d 'Move an existing database aside'

# audit [--limit N] [--since WHEN]
complete -c collab-admin -n '__collab_admin_at audit' -l limit -x -d 'At most N lines'
complete -c collab-admin -n '__collab_admin_at audit' -l since -x -d 'Since a duration ago (24h, 7d) or a date'

# token --user ID [--name NAME] [--scope SCOPE]... [--ttl SECONDS]
complete -c collab-admin -n '__collab_admin_at token' -l user -x -a '(__collab_admin_users)' -d 'Subject of the token'
complete -c collab-admin -n '__collab_admin_at token' -l name -x -d 'Display name'
complete -c collab-admin -n '__collab_admin_at token' -l scope -x -d 'Scope, e.g. room:ID or stream:NAME (repeatable)'
complete -c collab-admin -n '__collab_admin_at token' -l ttl -x -d 'Lifetime in seconds'
