using System.CommandLine;
using Jumpgate.Cli.Environments;

namespace Jumpgate.Cli.Commands;

/// <summary>`jumpgate jupyter HOST`: Jupyter on a host, in this machine's browser, over the user's ssh.</summary>
internal static class JupyterCommand
{
    public static Command Create()
    {
        var host = new Argument<string>("host") { Description = "The host, as ssh knows it (node1.jg through the gateway)" };
        var environment = new Option<string?>("--env") { Description = "The conda environment whose Jupyter to run (default: jupyter on the host's PATH)" };
        var folder = new Option<string?>("--dir") { Description = "The folder Jupyter opens (default: the home folder)" };
        var noBrowser = new Option<bool>("--no-browser") { Description = "Print the URL only" };
        var keep = new Option<bool>("--keep") { Description = "Leave Jupyter running on the host after Ctrl-C (only the forward stops)" };
        var sshConfig = new Option<string?>("--ssh-config") { Description = "This ssh config instead of yours (ssh -F)" };
        var service = new Option<string?>("--service") { Description = "Open this HTTP service of the host on the gateway (jumpgate open HOST SERVICE) instead of starting Jupyter over ssh" };
        var command = new Command("jupyter", Options.Describe(
            """
            Start Jupyter (lab where the environment has it, else notebook) on a host over your ssh, bound to
            127.0.0.1 with a fresh token, forward a free local port to it (ssh -L, through the gateway for
            NAME.jg hosts), print the URL and open it. Ctrl-C stops Jupyter, unless --keep.
            Where the host's agent already serves Jupyter as an HTTP service (named jupyter or lab, or
            the one --service names), open its subdomain on the gateway instead, as `jumpgate open` does;
            --env and --dir ask for a Jupyter of their own, started over ssh.
            """,
            "jumpgate jupyter node1.jg --env train --dir ~/project",
            "jumpgate jupyter node1.jg --no-browser --keep",
            "jumpgate jupyter node1.jg --service notebook"))
        {
            host, environment, folder, noBrowser, keep, sshConfig, service,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(service) is not null && (result.GetValue(environment) is not null || result.GetValue(folder) is not null || result.GetValue(keep)))
            {
                result.AddError("--service opens a Jupyter the agent already serves; --env, --dir and --keep are for one started over ssh");
            }
        });
        command.SetAction(async (result, cancellationToken) =>
            // A Jupyter of its own is asked for with --env or --dir: then the declared service does not fit.
            (result.GetValue(environment) is null && result.GetValue(folder) is null && !result.GetValue(keep)
                ? await JupyterService.TryOpenAsync(result.GetValue(host)!, result.GetValue(service), !result.GetValue(noBrowser), Console.Out, Console.Error, cancellationToken)
                : null)
            ?? await new RemoteJupyter(result.GetValue(host)!, result.GetValue(sshConfig), Console.Out, Console.Error)
            {
                Environment = result.GetValue(environment),
                Folder = result.GetValue(folder),
                Keep = result.GetValue(keep),
                OpenBrowser = !result.GetValue(noBrowser),
            }.RunAsync(cancellationToken));
        return command;
    }
}
