namespace Jumpgate.Cli.Onboarding;

/// <summary>
/// What to type after `gateway init`, with this gateway's directory, address and fingerprint filled
/// in: one command a line, each working as printed (NewUserPathTests runs them), and the doctors
/// last, for when a step fails, since `doctor --host` logs in with BatchMode and so cannot answer
/// ssh's first question about a new host key.
/// </summary>
internal static class NextSteps
{
    /// <param name="user">The user `init --user` added and the file that holds their token; null when init added none.</param>
    public static string AfterInit(string dir, string url, string? fingerprint, (string Name, string TokenFile)? user = null)
    {
        var quoted = Quote(dir);
        var login = $"jumpgate login {url} --token-file {Quote(user?.TokenFile ?? "alice.token")}{(fingerprint is null ? "" : " --fingerprint " + fingerprint)} --ssh-config";
        var laptop = user is { } added
            ? $"""
                  3. on {added.Name}'s laptop, with {Quote(added.TokenFile)} copied there (`jumpgate gateway add-user NAME --dir {quoted} -o NAME.token` adds more users):
                       {login}
                       ssh node1.jg
                """
            : $"""
                  3. add a user and give them the token file; on their laptop:
                       jumpgate gateway add-user alice --dir {quoted} -o alice.token
                       {login}
                       ssh node1.jg
                """;
        return $"""
            next steps:
              1. run the gateway (deploy/systemd/jumpgate-gateway.service keeps it running):
                   jumpgate gateway run --dir {quoted}
              2. add an agent and write its agent.yaml, edit its hosts' addresses and ports, then run it on a machine inside the private network:
                   jumpgate gateway add-agent lab-a --hosts 'node*' --dir {quoted} -o lab-a.token --print-config > agent.yaml
                   jumpgate agent run --config agent.yaml
            {laptop}
            when a step fails: `jumpgate agent doctor --config agent.yaml` on the agent's machine, `jumpgate doctor --host node1` on the laptop, say what to fix

            """;
    }

    private static string Quote(string path) => path.Contains(' ', StringComparison.Ordinal) ? $"'{path}'" : path;
}
