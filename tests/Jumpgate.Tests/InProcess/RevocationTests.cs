using System.Diagnostics;
using System.Security.Cryptography;
using Jumpgate.Core.Security;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.Tests.InProcess;

/// <summary>
/// An admin's change on the store (`jumpgate gateway revoke-token` or `disable-user`, from another
/// process in production) cuts a user's live stream while it carries data, within the access
/// re-check, and the audit says the stream was revoked and why.
/// </summary>
public sealed class RevocationTests : IClassFixture<RevocationTests.Lab>
{
    private readonly Lab _lab;
    private readonly ITestOutputHelper _output;

    public RevocationTests(Lab lab, ITestOutputHelper output)
    {
        _lab = lab;
        _output = output;
        lab.Gateway.Output.Current = output;
    }

    /// <summary>One gateway for the class, lab-a serving node1's echo; each test revokes a user of its own.</summary>
    public sealed class Lab : IAsyncLifetime
    {
        internal GatewayInProcess Gateway { get; private set; } = null!;
        internal ScriptedService Service { get; } = ScriptedService.Echo();
        internal AgentInProcess Agent { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Gateway = await GatewayInProcess.StartAsync(null);
            Agent = await AgentInProcess.StartAsync(Gateway, "lab-a", new Dictionary<string, IReadOnlyDictionary<string, int>>
            {
                ["node1"] = new Dictionary<string, int> { ["echo"] = Service.Port },
            });
        }

        public async Task DisposeAsync()
        {
            await Agent.DisposeAsync();
            await Service.DisposeAsync();
            await Gateway.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(UserPath.Connect, "token")]
    [InlineData(UserPath.Trunk, "token")]
    [InlineData(UserPath.Connect, "user")]
    [InlineData(UserPath.Trunk, "user")]
    public async Task ARevokedGrantCutsTheStreamWhileDataFlows(UserPath path, string revoke)
    {
        var name = $"{revoke}-{path.ToString().ToLowerInvariant()}";
        var token = await _lab.Gateway.AddUserAsync(name);
        await using var user = await UserStream.OpenAsync(_lab.Gateway, path, "node1", "echo", token);
        var chunk = RandomNumberGenerator.GetBytes(16 * 1024);
        Assert.Equal(chunk, await EchoAsync(user, chunk));
        var flowing = PumpUntilCutAsync(user, chunk);

        var revoked = Stopwatch.StartNew();
        if (revoke == "token")
        {
            var id = (await _lab.Gateway.Admin.TokensAsync(CancellationToken.None)).Single(t => t.Principal == name).Id;
            await _lab.Gateway.Admin.RevokeTokenAsync(id, CancellationToken.None);
        }
        else
        {
            await _lab.Gateway.Admin.SetDisabledAsync(PrincipalKind.User, name, true, CancellationToken.None);
        }

        var (echoedAfter, cut) = await flowing.WaitAsync(Signals.Timeout(15));
        _output.WriteLine($"cut {revoked.ElapsedMilliseconds} ms after the admin's change, {echoedAfter} chunks echoed meanwhile");
        Assert.True(cut, $"the stream was still open after {echoedAfter} more chunks");
        var audit = await _lab.Gateway.WaitForAuditAsync(e => e.User == name && e.Outcome is "revoked" or "closed");
        Assert.Equal(("revoked", "node1", "echo"), (audit.Outcome, audit.Host, audit.Service));
        Assert.Equal($"revoked: user {name} was disabled or the token was revoked or expired", audit.Reason);
    }

    private static async Task<byte[]> EchoAsync(UserStream user, byte[] chunk)
    {
        await user.WriteAsync(chunk);
        return await user.ReadExactlyAsync(chunk.Length);
    }

    /// <summary>
    /// Echoes chunks until the stream breaks, for at most 10 s and 20,000 chunks; returns how many made
    /// it and whether it broke. An echo that fails or ends early is the cut the test waits for.
    /// </summary>
    private static async Task<(int Echoed, bool Cut)> PumpUntilCutAsync(UserStream user, byte[] chunk)
    {
        var running = Stopwatch.StartNew();
        var i = 0;
        for (; i < 20_000 && running.Elapsed < Signals.Timeout(10); i++)
        {
            try
            {
                if (!(await EchoAsync(user, chunk)).AsSpan().SequenceEqual(chunk))
                {
                    throw new InvalidOperationException("the echo came back different");
                }
            }
            catch (Exception e) when (e is IOException or EndOfStreamException or ObjectDisposedException or System.Security.Authentication.AuthenticationException)
            {
                return (i, true);
            }
        }
        return (i, false);
    }
}
