// etcdctl version, etcdctl completion <shell>, and the hidden __complete
// command the completion scripts call (cobra's protocol: one candidate per
// line, "name<TAB>description", then ":<directive>"; docs/etcdctl.md).
#include <iostream>
#include <set>

#include "base/version.h"
#include "etcdctl/global.h"

namespace etcd::ctl {
namespace {

// cobra's ShellCompDirective bits.
enum Directive : int {
  kDirectiveDefault = 0,
  kDirectiveError = 1,
  kDirectiveNoSpace = 2,
  kDirectiveNoFileComp = 4,
};

std::string directive_names(int d) {
  std::string out;
  auto add = [&](const char* n) { out += out.empty() ? n : std::string(", ") + n; };
  if (d & kDirectiveError) add("ShellCompDirectiveError");
  if (d & kDirectiveNoSpace) add("ShellCompDirectiveNoSpace");
  if (d & kDirectiveNoFileComp) add("ShellCompDirectiveNoFileComp");
  if (out.empty()) add("ShellCompDirectiveDefault");
  return out;
}

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

Command* exact_child(Command& c, const std::string& name) {
  for (const auto& child : c.children()) {
    if (child->name() == name) return child.get();
  }
  return nullptr;
}

// A command cobra offers: runnable, or with a runnable command below.
bool available(const Command& c) {
  if (c.runnable()) return true;
  for (const auto& child : c.children()) {
    if (available(*child)) return true;
  }
  return false;
}

struct Found {
  Command* cmd = nullptr;
  std::vector<std::string> args;  // all words after the command's path
};

// cobra's Find: the deepest command named by the non-flag words; words that
// are flags (with their values) are skipped. Only the root refuses words it
// does not know.
std::optional<Found> find_command(Command& root, const std::vector<std::string>& words) {
  Found f;
  f.cmd = &root;
  std::vector<std::string> rest = words;
  while (true) {
    size_t i = 0;
    for (; i < rest.size(); ++i) {
      const std::string& a = rest[i];
      if (a == "--") {
        i = rest.size();
        break;
      }
      if (a.size() > 1 && a[0] == '-') {
        if (a.find('=') != std::string::npos) continue;
        Flag* flag = nullptr;
        if (a[1] == '-') {
          flag = f.cmd->lookup(a.substr(2));
        } else if (a.size() == 2) {
          flag = f.cmd->lookup_short(a[1]);
        }
        if (flag && flag->kind != FlagKind::kBool) ++i;
        continue;
      }
      break;
    }
    if (i >= rest.size()) break;
    Command* child = exact_child(*f.cmd, rest[i]);
    if (!child) {
      if (!f.cmd->parent() && !f.cmd->children().empty()) return std::nullopt;
      break;
    }
    f.cmd = child;
    rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(i));
  }
  f.args = rest;
  return f;
}

struct FlagRef {
  std::string name, shorthand, usage;
  FlagKind kind;
  bool hidden;
};

// The flags of `cmd` in cobra's order for completion: inherited ones
// (sorted), then its own, help included (sorted).
std::vector<FlagRef> completion_flags(Command& cmd) {
  std::map<std::string, FlagRef> own, inherited;
  auto ref = [](const Flag& f) { return FlagRef{f.name, f.shorthand, f.usage, f.kind, f.hidden}; };
  for (const auto& [n, f] : cmd.flags().all()) own.emplace(n, ref(f));
  for (const auto& [n, f] : cmd.persistent_flags().all()) own.emplace(n, ref(f));
  own.emplace("help", FlagRef{"help", "h", "help for " + cmd.name(), FlagKind::kBool, false});
  for (Command* c = cmd.parent(); c; c = c->parent()) {
    for (const auto& [n, f] : c->persistent_flags().all()) {
      if (!own.count(n)) inherited.emplace(n, ref(f));
    }
  }
  std::vector<FlagRef> out;
  for (auto& [_, f] : inherited) out.push_back(f);
  for (auto& [_, f] : own) out.push_back(f);
  return out;
}

struct Completions {
  std::vector<std::string> items;  // "name\tdescription"
  int directive = kDirectiveDefault;
  std::string error;
};

void add_subcommands(Command& cmd, const std::string& prefix, Completions& out) {
  for (const auto& child : cmd.children()) {
    if (!available(*child) && child->name() != "help") continue;
    if (starts_with(child->name(), prefix)) {
      out.items.push_back(child->name() + "\t" + child->short_desc());
    }
    out.directive = kDirectiveNoFileComp;
  }
}

Completions complete(Command& root, const std::vector<std::string>& words) {
  Completions out;
  const std::string to_complete = words.empty() ? "" : words.back();
  std::vector<std::string> before(words.begin(), words.end() - (words.empty() ? 0 : 1));
  auto found = find_command(root, before);
  if (!found) {
    out.error = "Unable to find a command for arguments: [";
    for (size_t i = 0; i < before.size(); ++i) out.error += (i ? " " : "") + before[i];
    out.error += "]";
    return out;
  }
  Command& cmd = *found->cmd;
  // Which flags are set already, and the positional words.
  std::set<std::string> changed;
  std::vector<std::string> positional;
  bool local_flag_set = false;
  for (size_t i = 0; i < found->args.size(); ++i) {
    const std::string& a = found->args[i];
    if (a.size() > 1 && a[0] == '-' && a != "--") {
      Flag* f = nullptr;
      const std::string body = a.substr(a[1] == '-' ? 2 : 1);
      const std::string name = body.substr(0, body.find('='));
      f = a[1] == '-' ? cmd.lookup(name) : (name.size() == 1 ? cmd.lookup_short(name[0]) : nullptr);
      if (f) {
        changed.insert(f->name);
        if (cmd.flags().find(f->name)) local_flag_set = true;
        if (f->kind != FlagKind::kBool && a.find('=') == std::string::npos) ++i;
      }
      continue;
    }
    if (a != "--") positional.push_back(a);
  }
  // Completing a flag's value: "--flag=<here>", or after a flag that takes one.
  if (!to_complete.empty() && to_complete[0] == '-' && to_complete.find('=') != std::string::npos) {
    return out;  // no flag has value completions
  }
  if (!to_complete.empty() && to_complete[0] != '-' && !before.empty()) {
    const std::string& prev = before.back();
    if (prev.size() > 1 && prev[0] == '-' && prev.find('=') == std::string::npos) {
      Flag* f = prev[1] == '-' ? cmd.lookup(prev.substr(2)) : cmd.lookup_short(prev.back());
      if (f && f->kind != FlagKind::kBool) return out;
    }
  }
  if (to_complete.empty() && !before.empty()) {
    const std::string& prev = before.back();
    if (prev.size() > 1 && prev[0] == '-' && prev.find('=') == std::string::npos) {
      Flag* f = prev[1] == '-' ? cmd.lookup(prev.substr(2)) : cmd.lookup_short(prev.back());
      if (f && f->kind != FlagKind::kBool) return out;
    }
  }
  if (!to_complete.empty() && to_complete[0] == '-') {
    for (const FlagRef& f : completion_flags(cmd)) {
      if (f.hidden) continue;
      const bool multi = f.kind == FlagKind::kStringSlice || f.kind == FlagKind::kStringArray;
      if (changed.count(f.name) && !multi) continue;
      if (starts_with("--" + f.name, to_complete))
        out.items.push_back("--" + f.name + "\t" + f.usage);
      if (!f.shorthand.empty() && starts_with("-" + f.shorthand, to_complete)) {
        out.items.push_back("-" + f.shorthand + "\t" + f.usage);
      }
    }
    out.directive = kDirectiveNoFileComp;
    return out;
  }
  if (cmd.name() == "help" && cmd.parent() == &root) {
    // help <command path>: the commands below the path given so far.
    auto target = find_command(root, positional);
    out.directive = kDirectiveNoFileComp;
    if (!target) return out;
    for (const auto& child : target->cmd->children()) {
      if (!available(*child) && child->name() != "help") continue;
      if (starts_with(child->name(), to_complete)) {
        out.items.push_back(child->name() + "\t" + child->short_desc());
      }
    }
    return out;
  }
  if (positional.empty() && !local_flag_set) add_subcommands(cmd, to_complete, out);
  if (cmd.name() == "completion" && cmd.parent() == &root) out.directive = kDirectiveNoFileComp;
  return out;
}

// ---- the scripts ----
// Each asks `etcdctl __complete <words so far> <current word>` and turns the
// answer into the shell's candidates: descriptions where the shell shows
// them, no file names when the directive says so, files otherwise.

std::string bash_script(bool descriptions) {
  const std::string request = descriptions ? "__complete" : "__completeNoDesc";
  return R"SH(# bash completion for etcdctl (etcdctl completion bash)
#
# Candidates come from `etcdctl )SH" +
         request + R"SH( ...` (one per line, "name<TAB>description",
# then ":<directive>": 1 error, 2 no space after, 4 no file names).

_etcdctl_ask() {
    # $1: the etcdctl to run; the rest: the words, the last one being completed.
    local prog=$1
    shift
    "$prog" )SH" +
         request + R"SH( "$@" 2>/dev/null
}

_etcdctl_complete() {
    local cur words cword
    if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
        _get_comp_words_by_ref -n =: cur words cword
    else
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
        cur=${COMP_WORDS[COMP_CWORD]}
    fi
    COMPREPLY=()

    local prog=${words[0]}
    local -a args=("${words[@]:1:cword-1}")
    local value_prefix=""
    local word=$cur
    if [[ $cur == -*=* ]]; then
        value_prefix="${cur%%=*}="
    fi

    local out
    out=$(_etcdctl_ask "$prog" "${args[@]}" "$word") || true
    local directive=0
    local last=${out##*$'\n'}
    if [[ $last == :* ]]; then
        directive=${last#:}
        if [[ $out == *$'\n'* ]]; then out=${out%$'\n'*}; else out=""; fi
    fi
    [[ $directive =~ ^[0-9]+$ ]] || directive=0
    if (( directive & 1 )); then
        return
    fi

    local -a names=() shown=()
    local line name desc
    while IFS= read -r line; do
        [[ -z $line ]] && continue
        name=${line%%$'\t'*}
        desc=""
        [[ $line == *$'\t'* ]] && desc=${line#*$'\t'}
        names+=("$value_prefix$name")
        if [[ -n $desc ]]; then shown+=("$name  ($desc)"); else shown+=("$name"); fi
    done <<< "$out"

    if (( directive & 2 )); then
        compopt -o nospace 2>/dev/null
    fi
    if (( directive & 4 )); then
        compopt +o default 2>/dev/null
    elif (( ${#names[@]} == 0 )); then
        # No candidates and files allowed: bash's default (file names).
        return
    fi

    if (( ${#names[@]} == 1 )); then
        COMPREPLY=("${names[0]}")
    elif [[ -n $value_prefix ]]; then
        COMPREPLY=("${names[@]}")
    else
        # Several: show them with their descriptions; the line only gets
        # their common prefix, which the descriptions do not change.
        local common=${names[0]} n
        for n in "${names[@]:1}"; do
            while [[ -n $common && ${n#"$common"} == "$n" ]]; do common=${common%?}; done
        done
        if [[ ${#common} -gt ${#word} ]]; then
            COMPREPLY=("$common")
        else
            local width=${COLUMNS:-80} i
            for i in "${!shown[@]}"; do
                if (( ${#shown[i]} > width - 1 )); then shown[i]="${shown[i]:0:width-5}...)"; fi
            done
            COMPREPLY=("${shown[@]}")
        fi
    fi
    if declare -F __ltrim_colon_completions >/dev/null 2>&1; then
        __ltrim_colon_completions "$cur"
    fi
}

complete -o default -F _etcdctl_complete etcdctl
)SH";
}

std::string zsh_script(bool descriptions) {
  const std::string request = descriptions ? "__complete" : "__completeNoDesc";
  return R"SH(#compdef etcdctl
# zsh completion for etcdctl (etcdctl completion zsh)
#
# Candidates come from `etcdctl )SH" +
         request + R"SH( ...` (one per line, "name<TAB>description",
# then ":<directive>": 1 error, 2 no space after, 4 no file names).

_etcdctl() {
    local -a words_before candidates
    local out last directive line name desc
    words_before=("${(@)words[2,CURRENT-1]}")
    out=$("${words[1]}" )SH" +
         request + R"SH( "${(@)words_before}" "${words[CURRENT]}" 2>/dev/null)
    last=${out##*$'\n'}
    directive=0
    if [[ $last == :* ]]; then
        directive=${last#:}
        if [[ $out == *$'\n'* ]]; then out=${out%$'\n'*}; else out=""; fi
    fi
    [[ $directive == <-> ]] || directive=0
    (( directive & 1 )) && return 1

    for line in "${(@f)out}"; do
        [[ -z $line ]] && continue
        name=${line%%$'\t'*}
        desc=""
        [[ $line == *$'\t'* ]] && desc=${line#*$'\t'}
        name=${name//:/\\:}
        if [[ -n $desc ]]; then candidates+=("$name:$desc"); else candidates+=("$name"); fi
    done

    if (( ${#candidates} > 0 )); then
        if (( directive & 2 )); then
            _describe -t etcdctl 'etcdctl' candidates -S ''
        else
            _describe -t etcdctl 'etcdctl' candidates
        fi
        return
    fi
    (( directive & 4 )) && return 1
    _files
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _etcdctl "$@"
else
    compdef _etcdctl etcdctl
fi
)SH";
}

std::string fish_script(bool descriptions) {
  const std::string request = descriptions ? "__complete" : "__completeNoDesc";
  return R"SH(# fish completion for etcdctl (etcdctl completion fish)
#
# Candidates come from `etcdctl )SH" +
         request + R"SH( ...` (one per line, "name<TAB>description",
# then ":<directive>": 1 error, 2 no space after, 4 no file names).

function __etcdctl_candidates
    set -l tokens (commandline -opc)
    set -l current (commandline -ct)
    set -l out ($tokens[1] )SH" +
         request + R"SH( $tokens[2..-1] "$current" 2>/dev/null)
    set -l directive 0
    if test (count $out) -gt 0; and string match -q -r '^:[0-9]+$' -- $out[-1]
        set directive (string sub -s 2 -- $out[-1])
        set -e out[-1]
    end
    if test (math "bitand($directive, 1)") -ne 0
        return
    end
    if test (count $out) -eq 0; and test (math "bitand($directive, 4)") -eq 0
        __fish_complete_path "$current"
        return
    end
    for line in $out
        printf '%s\n' $line
    end
end

complete -c etcdctl -e
complete -c etcdctl -f -a '(__etcdctl_candidates)'
)SH";
}

std::string powershell_script(bool descriptions) {
  const std::string request = descriptions ? "__complete" : "__completeNoDesc";
  return R"SH(# powershell completion for etcdctl (etcdctl completion powershell)
#
# Candidates come from `etcdctl )SH" +
         request + R"SH( ...` (one per line, "name<TAB>description",
# then ":<directive>": 1 error, 2 no space after, 4 no file names).

Register-ArgumentCompleter -CommandName 'etcdctl' -Native -ScriptBlock {
    param($WordToComplete, $CommandAst, $CursorPosition)

    $line = "$CommandAst"
    if ($line.Length -gt $CursorPosition) { $line = $line.Substring(0, $CursorPosition) }
    $elements = @($line.Split(' ', [StringSplitOptions]::RemoveEmptyEntries))
    $program = $elements[0]
    $rest = @()
    if ($elements.Count -gt 1) { $rest = $elements[1..($elements.Count - 1)] }
    if ($WordToComplete -eq '') { $rest += '""' }

    $out = @(& $program )SH" +
         request + R"SH( @rest 2>$null)
    $directive = 0
    if ($out.Count -gt 0 -and $out[-1] -match '^:(\d+)$') {
        $directive = [int]$Matches[1]
        if ($out.Count -gt 1) { $out = $out[0..($out.Count - 2)] } else { $out = @() }
    }
    if ($directive -band 1) { return }

    $results = foreach ($entry in $out) {
        if ($entry -eq '') { continue }
        $name, $desc = $entry.Split("`t", 2)
        if (-not $name.StartsWith($WordToComplete)) { continue }
        if (-not $desc) { $desc = $name }
        $text = $name
        if (-not ($directive -band 2)) { $text = "$name " }
        [System.Management.Automation.CompletionResult]::new($text, $name, 'ParameterValue', $desc)
    }
    if (-not $results -and -not ($directive -band 4)) {
        return  # PowerShell completes file names itself
    }
    $results
}
)SH";
}

void add_completion(Command& root) {
  auto completion = std::make_unique<Command>(
      "completion", "Generate the autocompletion script for the specified shell",
      "Generate the autocompletion script for etcdctl for the specified shell.\n"
      "See each sub-command's help for details on how to use the generated script.\n");
  struct Shell {
    const char* name;
    const char* long_desc;
    std::string (*script)(bool);
  };
  static const Shell kShells[] = {
      {"bash",
       "Generate the autocompletion script for the bash shell.\n\n"
       "This script depends on the 'bash-completion' package.\n"
       "If it is not installed already, you can install it via your OS's package manager.\n\n"
       "To load completions in your current shell session:\n\n"
       "\tsource <(etcdctl completion bash)\n\n"
       "To load completions for every new session, execute once:\n\n"
       "#### Linux:\n\n"
       "\tetcdctl completion bash > /etc/bash_completion.d/etcdctl\n\n"
       "#### macOS:\n\n"
       "\tetcdctl completion bash > $(brew --prefix)/etc/bash_completion.d/etcdctl\n\n"
       "You will need to start a new shell for this setup to take effect.\n",
       bash_script},
      {"fish",
       "Generate the autocompletion script for the fish shell.\n\n"
       "To load completions in your current shell session:\n\n"
       "\tetcdctl completion fish | source\n\n"
       "To load completions for every new session, execute once:\n\n"
       "\tetcdctl completion fish > ~/.config/fish/completions/etcdctl.fish\n\n"
       "You will need to start a new shell for this setup to take effect.\n",
       fish_script},
      {"powershell",
       "Generate the autocompletion script for powershell.\n\n"
       "To load completions in your current shell session:\n\n"
       "\tetcdctl completion powershell | Out-String | Invoke-Expression\n\n"
       "To load completions for every new session, add the output of the above command\n"
       "to your powershell profile.\n",
       powershell_script},
      {"zsh",
       "Generate the autocompletion script for the zsh shell.\n\n"
       "If shell completion is not already enabled in your environment you will need\n"
       "to enable it.  You can execute the following once:\n\n"
       "\techo \"autoload -U compinit; compinit\" >> ~/.zshrc\n\n"
       "To load completions in your current shell session:\n\n"
       "\tsource <(etcdctl completion zsh); compdef _etcdctl etcdctl\n\n"
       "To load completions for every new session, execute once:\n\n"
       "#### Linux:\n\n"
       "\tetcdctl completion zsh > \"${fpath[1]}/_etcdctl\"\n\n"
       "#### macOS:\n\n"
       "\tetcdctl completion zsh > $(brew --prefix)/share/zsh/site-functions/_etcdctl\n\n"
       "You will need to start a new shell for this setup to take effect.\n",
       zsh_script},
  };
  for (const Shell& sh : kShells) {
    const std::string shell = sh.name;
    auto script = sh.script;
    Command& c = completion->add(shell, "Generate the autocompletion script for " + shell,
                                 sh.long_desc, [script, shell](Invocation& inv) {
                                   if (!inv.args.empty()) {
                                     // cobra's NoArgs: the error, the usage, the error again.
                                     const std::string msg = "unknown command \"" + inv.args[0] +
                                                             "\" for \"" + inv.cmd->path() + "\"";
                                     std::cerr << "Error: " << msg << "\n\n" << std::flush;
                                     std::cout << inv.cmd->usage() << std::flush;
                                     exit_with_error(kExitError, msg);
                                   }
                                   std::cout << script(!inv.get_bool("no-descriptions"));
                                 });
    c.disable_flags_in_use_line = shell == "bash";  // as cobra has it
    c.flags().add(FlagKind::kBool, "no-descriptions", "", "false",
                  "disable completion descriptions");
  }
  root.add(std::move(completion));
}

}  // namespace

int run_shell_complete(Command& root, const std::vector<std::string>& args) {
  const bool descriptions = args[0] == "__complete";
  std::vector<std::string> words(args.begin() + 1, args.end());
  Completions c = complete(root, words);
  if (!c.error.empty()) std::cerr << "[Debug] [Error] " << c.error << "\n";
  for (std::string item : c.items) {
    if (!descriptions) item = item.substr(0, item.find('\t'));
    item = item.substr(0, item.find('\n'));
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.pop_back();
    std::cout << item << "\n";
  }
  std::cout << ":" << c.directive << "\n" << std::flush;
  std::cerr << "Completion ended with directive: " << directive_names(c.directive) << "\n";
  return kExitSuccess;
}

void add_misc_commands(Command& root) {
  root.add("version", "Prints the version of etcdctl", "", [](Invocation&) {
    std::cout << "etcdctl version: " << kEtcdVersion << "\n";
    std::cout << "API version: " << kApiVersion << "\n";
  });
  add_completion(root);
}

}  // namespace etcd::ctl
