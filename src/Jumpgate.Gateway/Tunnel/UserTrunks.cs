using Jumpgate.Core.Config;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;
using Jumpgate.Core.Streams;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Auth;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Logging;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// A user's trunk (what `jumpgate forward` keeps): every stream on it opens with an
/// <see cref="OpenRequest"/> and is then handled by the <see cref="StreamBroker"/> as a connection
/// of its own would be. The token is checked again for each stream, since it may have been revoked
/// meanwhile, and the trunk closes once it is. Streams are limited per trunk and per user
/// (<see cref="StreamQuota"/>); a trunk with no streams that sends nothing for
/// <see cref="TrunkOptions.IdleTimeout"/> is closed.
/// </summary>
internal sealed class UserTrunks(
    StreamBroker broker,
    Authenticator authenticator,
    AccessMonitor monitor,
    StreamQuota quota,
    TrunkOptions options,
    TimeProvider time,
    ILogger<UserTrunks> logger)
{
    /// <summary>How long a new trunk stream may take to say what it wants (it sends that with its first frame).</summary>
    private static readonly TimeSpan OpenRequestTimeout = TimeSpan.FromSeconds(10);

    public async Task RunAsync(TunnelConnection connection, Hello hello, Principal? user)
    {
        if (user is null)
        {
            await connection.RefuseAsync(await authenticator.RefusalAsync(connection.Remote, connection.Closed));
            return;
        }
        // The idle timeout goes with the answer, so `forward` can close an idle trunk itself just before the gateway would.
        await connection.ReplyAsync(Reply.Success with { IdleTimeoutMs = (long)options.IdleTimeout.TotalMilliseconds }, connection.Closed);
        var streams = quota.ForTrunk(user.Name, connection.Remote);
        Trunk? trunk = null;
        trunk = new Trunk(connection.Stream, opener: false, accept: stream => RunStreamAsync(stream, trunk!, streams, connection, hello),
            acceptFailed: e => GatewayLog.UserTrunkStreamFailed(logger, user.Name, connection.Remote, e))
        {
            IdleTimeout = options.IdleTimeout,
            Time = time,
        };
        using var stopping = connection.ClosingRequested.Register(trunk.Drain);
        using var grant = monitor.TrackTrunk(user.Name, user.TokenId);
        using var revoked = grant.Revoked.Register(trunk.Close);
        await trunk.RunAsync(connection.Closed);
        if (grant.Reason is { } reason)
        {
            GatewayLog.UserTrunkClosed(logger, user.Name, connection.Remote, "revoked: " + reason);
        }
        else if (trunk.ClosedIdle)
        {
            GatewayLog.UserTrunkClosed(logger, user.Name, connection.Remote, $"no streams and nothing sent for {Durations.Humanize(options.IdleTimeout)}");
        }
    }

    private async Task RunStreamAsync(TrunkStream stream, Trunk trunk, StreamQuota.TrunkStreams streams, TunnelConnection connection, Hello hello)
    {
        if (quota.TryAdmit(streams, out var refusal) is not { } admission)
        {
            // Answered and reset in one write nobody waits on: a flood of new streams holds nothing here.
            trunk.Refuse(stream, Frame.Encode(Reply.Failure(refusal), ProtocolJson.Default.Reply));
            return;
        }
        using var admitted = admission;
        await using var _ = stream;
        var client = new TunnelConnection(stream, connection.Remote, trunk.Closed, connection.ClosingRequested, stream.Abort);
        try
        {
            OpenRequest request;
            using (var waiting = CancellationTokenSource.CreateLinkedTokenSource(trunk.Closed))
            {
                waiting.CancelAfter(OpenRequestTimeout);
                request = await Frame.ReadAsync(stream, ProtocolJson.Default.OpenRequest, waiting.Token);
            }
            admission.Requested();
            if (connection.ClosingRequested.IsCancellationRequested)
            {
                await client.RefuseAsync("the gateway is stopping; try again in a moment");
                return;
            }
            var user = authenticator.Authenticate(hello.Token, PrincipalKind.User, connection.Remote);
            await broker.RunAsync(client, hello with { Host = request.Host, Service = request.Service, Direct = request.Direct, Plain = request.Plain, Fallback = request.Fallback }, user, request.Session);
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or ProtocolException or OperationCanceledException or ObjectDisposedException)
        {
            // The stream was reset or its request never came whole; nothing was asked of the gateway.
        }
    }
}
