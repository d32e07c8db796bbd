using System.Net.Sockets;
using Jumpgate.Agent.Configuration;
using Jumpgate.Core.Config;

namespace Jumpgate.Cli.Onboarding;

/// <summary>
/// `jumpgate agent doctor`: the agent's side: its config and token file, each gateway it dials
/// (<see cref="GatewayProbe"/>), and whether each service answers from this machine.
/// </summary>
internal sealed class AgentDoctor(string configPath)
{
    public async Task RunAsync(DoctorChecks checks, CancellationToken cancellationToken)
    {
        AgentOptions options;
        try
        {
            // The parse also refuses a token file others can read, and one that holds no agent token.
            options = AgentOptions.Load(configPath);
        }
        catch (ConfigException e)
        {
            foreach (var error in e.Errors)
            {
                checks.Add(DoctorCheck.Fail("config", error.ToString(), "edit the file where the error says (the printed one from `jumpgate gateway add-agent --print-config` is complete)"));
            }
            return;
        }
        checks.Add(DoctorCheck.Pass("config", $"{configPath} parses: {options.Hosts.Count} host(s), {options.Gateways.Count} gateway(s), a private token file"));
        foreach (var gateway in options.Gateways)
        {
            if (await GatewayProbe.RunAsync(gateway, checks, cancellationToken))
            {
                await GatewayProbe.ClockAsync(gateway, checks, cancellationToken);
            }
        }
        // Only a control connection shows whether the gateway takes the token, and it would announce
        // this agent's hosts (and compete with a running agent), so the doctor does not make one.
        checks.Add(DoctorCheck.Pass("token", "not sent: the gateway checks an agent token only on a real connection, which would announce these hosts; `jumpgate agent run` says `connected` or why it was refused"));
        foreach (var host in options.Hosts.Values)
        {
            foreach (var service in host.Services.Values)
            {
                checks.Add(await ServiceAsync(host, service, cancellationToken));
            }
        }
    }

    private static async Task<DoctorCheck> ServiceAsync(HostTarget host, ServiceTarget service, CancellationToken cancellationToken)
    {
        var check = $"{host.Name}:{service.Name}";
        var address = $"{host.Address}:{service.Port}";
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(GatewayProbe.StepTimeout);
        try
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(host.Address, service.Port, timeout.Token);
            return DoctorCheck.Pass(check, $"{address} answers");
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            var why = e is SocketException s ? s.Message : $"no answer within {GatewayProbe.StepTimeout.TotalSeconds:0} s";
            return DoctorCheck.Fail(check, $"nothing answers at {address} from this machine ({why})",
                $"is the service running and listening on an address this machine reaches? (`ss -ltn` on {host.Name}; a firewall?) or correct address/port in the config");
        }
    }
}
