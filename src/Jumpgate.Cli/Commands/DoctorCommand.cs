using System.CommandLine;
using Jumpgate.Cli.Onboarding;

namespace Jumpgate.Cli.Commands;

/// <summary><c>jumpgate doctor</c>: checks this laptop's way to the gateway and its hosts, and says what to fix.</summary>
internal static class DoctorCommand
{
    public static Command Create()
    {
        var host = new Option<string?>("--host") { Description = "Also run `ssh -o BatchMode=yes HOST.jg true`, and ask ssh about HOST.jg (default node1.jg)" };
        var sshConfig = new Option<string?>("--ssh-config") { Description = "The ssh config to check; default ~/.ssh/config, where `jumpgate ssh-config --install` writes" };
        var json = Options.Json();
        var command = new Command("doctor", Options.Describe(
            "Check this machine end to end, one line a check: the saved login (present, mode 0600), each gateway (DNS, TCP, TLS and the pinned fingerprint, clock skew), the token (valid, not expiring within a week), the ssh config block, what `ssh -G HOST.jg` resolves to, and with --host a real ssh login. Each failure says what to fix; exits 1 when one fails.",
            "jumpgate doctor",
            "jumpgate doctor --host node1 --json"))
        {
            host, sshConfig, json,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var doctor = new ClientDoctor(result.GetValue(sshConfig) ?? SshConfigFile.DefaultPath, result.GetValue(host));
            return await DoctorReport.RunAsync(checks => doctor.RunAsync(checks, cancellationToken), result.GetValue(json));
        });
        return command;
    }
}
