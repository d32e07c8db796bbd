using Jumpgate.Cli.Client;

namespace Jumpgate.Cli.Install;

/// <summary>
/// Shell completion scripts that ask the binary itself: System.CommandLine answers
/// <c>jumpgate "[suggest:N]" "LINE"</c> with the completions at cursor position N, one a line,
/// from the same command tree that parses the arguments, so no list of commands is kept here
/// and no dotnet-suggest is needed.
/// </summary>
internal static class CompletionScripts
{
    public static readonly IReadOnlyList<string> Shells = ["bash", "zsh"];

    public static string For(string shell) => shell switch
    {
        "bash" => Bash,
        "zsh" => Zsh,
        _ => throw new CliException($"no completion for the shell '{shell}'; give one of: {string.Join(", ", Shells)}"),
    };

    // COMP_LINE up to COMP_POINT is what the user typed before the cursor; the binary filters by
    // the word being completed, so the answer goes into COMPREPLY as it is. No answer falls back
    // to file names (-o default): `--config agent.yaml`, `-o alice.token`.
    private const string Bash = """
        # jumpgate completion for bash: source <(jumpgate completion bash)
        _jumpgate_complete() {
            local line="${COMP_LINE:0:COMP_POINT}"
            local IFS=$'\n'
            COMPREPLY=($("${COMP_WORDS[0]}" "[suggest:${#line}]" "$line" 2>/dev/null))
        }
        complete -o default -F _jumpgate_complete jumpgate

        """;

    // zsh hands the words and the index of the one under the cursor; an empty answer falls back to files.
    private const string Zsh = """
        # jumpgate completion for zsh: source <(jumpgate completion zsh), after compinit
        _jumpgate_complete() {
            local line="${(j: :)words[1,CURRENT]}"
            local -a suggestions
            suggestions=("${(@f)$("${words[1]}" "[suggest:${#line}]" "$line" 2>/dev/null)}")
            suggestions=(${suggestions:#})
            if (( ${#suggestions} == 0 )); then
                _files
            else
                compadd -a suggestions
            fi
        }
        compdef _jumpgate_complete jumpgate

        """;
}
