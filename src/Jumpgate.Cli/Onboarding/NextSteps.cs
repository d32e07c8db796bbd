namespace Jumpgate.Cli.Onboarding;

/// <summary>
/// What to type after `gateway init`, with this gateway's directory, address and fingerprint filled
/// in: one command a line, each working as printed (NewUserPathTests runs them), and the doctors
/// last, for when a step fails, since `doctor --host` logs in with BatchMode and so cannot answer
/// ssh's first question about a new host key.
/// </summary>
internal static class NextSteps
{
    public static string AfterInit(string dir, string url, string? fingerprint)
    {
        var quoted = dir.Contains(' ', StringComparison.Ordinal) ? $"'{dir}'" : dir;
        return $"""
            next steps:
              1. run the gateway (deploy/systemd/jumpgate-gateway.service keeps it running):
                   jumpgate gateway run --dir {quoted}
              2. add an agent and write its agent.yaml, edit its hosts' addresses and ports, then run it on a machine inside the private network:
                   jumpgate gateway add-agent lab-a --hosts 'node*' --dir {quoted} -o lab-a.token --print-config > agent.yaml
                   jumpgate agent run --config agent.yaml
              3. add a user and give them the token file; on their laptop:
                   jumpgate gateway add-user alice --dir {quoted} -o alice.token
                   jumpgate login {url} --token-file alice.token{(fingerprint is null ? "" : " --fingerprint " + fingerprint)}
                   jumpgate ssh-config --install
                   ssh node1.jg
            when a step fails: `jumpgate agent doctor --config agent.yaml` on the agent's machine, `jumpgate doctor --host node1` on the laptop, say what to fix

            """;
    }
}
