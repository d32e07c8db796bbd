using System.Text;

namespace Jumpgate.Cli.Onboarding;

/// <summary>
/// A complete agent.yaml for a newly added agent: its gateways, the pinned fingerprint, its token
/// file, and one host per --hosts pattern with an ssh service to edit, so `jumpgate agent run` starts
/// as printed and the admin changes only the addresses.
/// </summary>
internal static class AgentConfigTemplate
{
    public static string Write(string agent, IReadOnlyList<string> gateways, string? fingerprint, string tokenFile, string hostPatterns)
    {
        var text = new StringBuilder();
        text.AppendLine($"# agent.yaml for agent {agent}: `jumpgate agent run --config agent.yaml` on a machine that reaches its hosts");
        text.AppendLine("# (`jumpgate agent doctor --config agent.yaml` checks it; `jumpgate agent install` makes it a systemd service).");
        if (gateways.Count == 1)
        {
            text.AppendLine($"gateway: {gateways[0]}");
        }
        else
        {
            text.AppendLine("gateway:");
            foreach (var gateway in gateways)
            {
                text.AppendLine($"  - {gateway}");
            }
        }
        if (fingerprint is not null)
        {
            text.AppendLine($"fingerprint: {fingerprint}");
        }
        text.AppendLine($"token_file: {tokenFile}");
        text.AppendLine($"# The hosts this agent serves (the gateway lets it serve: {hostPatterns}); address is where this machine reaches each.");
        text.AppendLine("hosts:");
        foreach (var host in ExampleHosts(hostPatterns))
        {
            text.AppendLine($"  {host}:");
            text.AppendLine("    address: 127.0.0.1");
            text.AppendLine("    services:");
            text.AppendLine("      ssh: 22");
        }
        return text.ToString();
    }

    /// <summary>A host name each pattern allows: node* gives node1, lab-pc itself, * alone node1.</summary>
    public static IReadOnlyList<string> ExampleHosts(string hostPatterns) =>
    [
        .. Core.Naming.HostPatterns.Parse(hostPatterns).Patterns
            .Select(p => p == "*" ? "node1" : p.Replace("*", "1", StringComparison.Ordinal).Replace("?", "1", StringComparison.Ordinal))
            .Distinct(StringComparer.Ordinal),
    ];
}
