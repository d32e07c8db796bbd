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
public sealed class RevocationTests(ITestOutputHelper output) : IAsyncLifetime
{
    private GatewayInProcess _gateway = null!;
    private ScriptedService _service = null!;
    private AgentInProcess _agent = null!;

    public async Task InitializeAsync()
    {
        _gateway = await GatewayInProcess.StartAsync(output);
        _service = ScriptedService.Echo();
        _agent = await AgentInProcess.StartAsync(_gateway, output, "lab-a", new Dictionary<string, IReadOnlyDictionary<string, int>>
        {
            ["node1"] = new Dictionary<string, int> { ["echo"] = _service.Port },
        });
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        await _service.DisposeAsync();
        await _gateway.DisposeAsync();
    }

    [Theory]
    [InlineData(UserPath.Connect, "token")]
    [InlineData(UserPath.Trunk, "token")]
    [InlineData(UserPath.Connect, "user")]
    public async Task ARevokedGrantCutsTheStreamWhileDataFlows(UserPath path, string revoke)
    {
        await using var user = await UserStream.OpenAsync(_gateway, path, "node1", "echo");
        var chunk = RandomNumberGenerator.GetBytes(16 * 1024);
        Assert.Equal(chunk, await EchoAsync(user, chunk));
        var flowing = PumpUntilCutAsync(user, chunk);

        var revoked = Stopwatch.StartNew();
        if (revoke == "token")
        {
            var id = (await _gateway.Admin.TokensAsync(CancellationToken.None)).Single(t => t.Principal == "researcher").Id;
            await _gateway.Admin.RevokeTokenAsync(id, CancellationToken.None);
        }
        else
        {
            await _gateway.Admin.SetDisabledAsync(PrincipalKind.User, "researcher", true, CancellationToken.None);
        }

        var (echoedAfter, cut) = await flowing.WaitAsync(Signals.Timeout(10));
        output.WriteLine($"cut {revoked.ElapsedMilliseconds} ms after the admin's change, {echoedAfter} chunks echoed meanwhile");
        Assert.True(cut, $"the stream was still open after {echoedAfter} more chunks");
        var audit = await _gateway.WaitForAuditAsync(e => e.Outcome == "revoked");
        Assert.Equal(("researcher", "node1", "echo"), (audit.User, audit.Host, audit.Service));
        Assert.Equal("revoked: user researcher was disabled or the token was revoked or expired", audit.Reason);
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
