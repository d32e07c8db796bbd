using System.CommandLine;
using Jumpgate.Cli.Install;

namespace Jumpgate.Cli.Commands;

/// <summary><c>jumpgate completion bash|zsh</c>: prints the shell's completion script.</summary>
internal static class CompletionCommand
{
    public static Command Create()
    {
        var shell = new Argument<string>("shell") { Description = "bash or zsh" };
        shell.AcceptOnlyFromAmong([.. CompletionScripts.Shells]);
        var command = new Command("completion", Options.Describe(
            "Print the shell completion script for bash or zsh.",
            "source <(jumpgate completion bash)     # in ~/.bashrc",
            "source <(jumpgate completion zsh)      # in ~/.zshrc, after compinit"))
        {
            shell,
        };
        command.SetAction(result => Console.Out.Write(CompletionScripts.For(result.GetValue(shell)!)));
        return command;
    }
}
