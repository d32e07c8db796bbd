using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Install;

/// <summary>`jumpgate completion bash` in a real bash, as readline would call it.</summary>
public sealed class CompletionTests(ITestOutputHelper output)
{
    [Fact]
    public async Task BashCompletesGatForGateway()
    {
        // COMP_LINE, COMP_POINT, COMP_WORDS and COMP_CWORD are what bash sets before it calls a completion function.
        const string script = """
            source <(jumpgate completion bash)
            complete -p jumpgate
            complete_line() {
                COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; read -ra COMP_WORDS <<< "$COMP_LINE"; COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
                _jumpgate_complete
                echo "$1 => ${COMPREPLY[*]}"
            }
            complete_line "jumpgate gat"
            complete_line "jumpgate gateway add-u"
            """;
        var environment = new Dictionary<string, string> { ["PATH"] = $"{Path.GetDirectoryName(TestSupport.Jumpgate.Built)}:{Environment.GetEnvironmentVariable("PATH")}" };

        var result = await Command.RunAsync("bash", ["-c", script], Signals.Timeout(60), environment, output: output);

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["complete -o default -F _jumpgate_complete jumpgate", "jumpgate gat => gateway", "jumpgate gateway add-u => add-user"], lines);
    }

    [Fact]
    public async Task ZshScriptAsksTheBinaryAndAnUnknownShellNamesTheKnownOnes()
    {
        var zsh = await Command.RunAsync(TestSupport.Jumpgate.Built, ["completion", "zsh"], Signals.Timeout(60));
        Assert.Equal(0, zsh.ExitCode);
        Assert.Contains("compdef _jumpgate_complete jumpgate", zsh.Stdout);
        Assert.Contains("[suggest:", zsh.Stdout);

        var fish = await Command.RunAsync(TestSupport.Jumpgate.Built, ["completion", "fish"], Signals.Timeout(60));
        Assert.Equal(1, fish.ExitCode);
        Assert.Contains("'bash'", fish.Stderr);
    }
}
