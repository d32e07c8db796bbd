using System.Net;
using Jumpgate.Core.Config;
using Jumpgate.Gateway.Configuration;
using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.Tests.Config;

public sealed class GatewayOptionsTests : IDisposable
{
    private readonly TempDirectory _directory = new("jg-gateway-config");

    private string ConfigPath => _directory.File(GatewayOptions.FileName);

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void ReadsACompleteFile()
    {
        File.WriteAllText(ConfigPath, """
            listen: 0.0.0.0:443
            domain: gw.example.org
            certificate: tls/gateway.crt
            key: /etc/jumpgate/gateway.key
            store: state/gateway.db
            heartbeat_interval: 1s
            pool_size: 2
            drain_timeout: 30s
            handshake_timeout: 5s
            direct_relay: copy
            """);

        var options = GatewayOptions.Load(_directory.Path);

        Assert.Equal(new IPEndPoint(IPAddress.Any, 443), options.Listen);
        Assert.Equal("gw.example.org", options.Domain);
        Assert.Equal(_directory.File("tls/gateway.crt"), options.CertificatePath);
        Assert.Equal("/etc/jumpgate/gateway.key", options.KeyPath);
        Assert.Equal(_directory.File("state/gateway.db"), options.Store.Path);
        Assert.Equal(TimeSpan.FromSeconds(1), options.HeartbeatInterval);
        Assert.Equal(2, options.PoolSize);
        Assert.Equal(TimeSpan.FromSeconds(30), options.DrainTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), options.HandshakeTimeout);
        Assert.Equal(Jumpgate.Core.Streams.SpliceMode.Copy, options.DirectRelay);
    }

    [Fact]
    public void FillsInDefaultsForWhatIsLeftOut()
    {
        File.WriteAllText(ConfigPath, "listen: 127.0.0.1:7443\n");

        var options = GatewayOptions.Load(_directory.Path);

        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 7443), options.Listen);
        Assert.Equal("localhost", options.Domain);
        Assert.Equal(_directory.File("gateway.crt"), options.CertificatePath);
        Assert.Equal(_directory.File("gateway.key"), options.KeyPath);
        Assert.Equal(_directory.File("gateway.db"), options.Store.Path);
        Assert.Equal(TimeSpan.FromSeconds(2), options.HeartbeatInterval);
        Assert.Equal(4, options.PoolSize);
        Assert.Equal(Jumpgate.Core.Streams.SpliceMode.Kernel, options.DirectRelay);
    }

    [Fact]
    public void RefusesADirectRelayItDoesNotKnow()
    {
        File.WriteAllText(ConfigPath, "listen: 127.0.0.1:7443\ndirect_relay: zerocopy\n");

        var error = Assert.Throws<ConfigException>(() => GatewayOptions.Load(_directory.Path));

        Assert.Contains("direct_relay", error.Message);
        Assert.Contains("expected splice", error.Message);
    }

    [Theory]
    [InlineData("127.0.0.1:7443", "127.0.0.1", 7443)]
    [InlineData("localhost:7443", "127.0.0.1", 7443)]
    [InlineData("*:443", "0.0.0.0", 443)]
    [InlineData("[::]:443", "::", 443)]
    [InlineData("[::1]:8443", "::1", 8443)]
    public void ReadsListenAddressesAsPeopleWriteThem(string text, string address, int port)
    {
        Assert.True(GatewayOptions.TryParseEndpoint(text, out var endpoint));
        Assert.Equal(new IPEndPoint(IPAddress.Parse(address), port), endpoint);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("7443")]
    [InlineData("127.0.0.1:70000")]
    [InlineData("gw.example.org:443")]
    [InlineData("127.0.0.1:abc")]
    public void ReportsABadListenAddress(string listen)
    {
        File.WriteAllText(ConfigPath, $"domain: gw.example.org\nlisten: {listen}\n");

        var error = Assert.Single(Assert.Throws<ConfigException>(() => GatewayOptions.Load(_directory.Path)).Errors);

        Assert.Equal(ConfigPath, error.File);
        Assert.Equal("listen", error.Field);
        Assert.Equal(2, error.Line);
        Assert.Contains("127.0.0.1:7443", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReportsAnUnknownKey()
    {
        File.WriteAllText(ConfigPath, "listen: 127.0.0.1:7443\nheartbeat: 1s\n");

        var error = Assert.Single(Assert.Throws<ConfigException>(() => GatewayOptions.Load(_directory.Path)).Errors);

        Assert.Equal("heartbeat", error.Field);
        Assert.Equal(2, error.Line);
        Assert.Contains("heartbeat_interval", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReportsEveryErrorAtOnce()
    {
        File.WriteAllText(ConfigPath, """
            domain: not a domain
            heartbeat_interval: 10s
            pool_size: many
            """);

        var errors = Assert.Throws<ConfigException>(() => GatewayOptions.Load(_directory.Path)).Errors;

        Assert.Equal(["domain", "heartbeat_interval", "listen", "pool_size"], errors.Select(e => e.Field).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void ReadsTheAccessIntervals()
    {
        File.WriteAllText(ConfigPath, """
            listen: 127.0.0.1:7443
            access:
              recheck_interval: 500ms
              auth_failure_burst: 3
              auth_failure_interval: 30s
            """);

        var access = GatewayOptions.Load(_directory.Path).Access;

        Assert.Equal(TimeSpan.FromMilliseconds(500), access.RecheckInterval);
        Assert.Equal(3, access.AuthFailureBurst);
        Assert.Equal(TimeSpan.FromSeconds(30), access.AuthFailureInterval);
        Assert.Equal(new Gateway.Configuration.AccessOptions(), GatewayOptions.Load(WriteMinimal()).Access);
    }

    [Fact]
    public void ReadsTheTrunkLimits()
    {
        File.WriteAllText(ConfigPath, """
            listen: 127.0.0.1:7443
            trunks:
              max_streams: 8
              max_streams_per_user: 16
              max_pending: 2
              max_pending_per_user: 4
              idle_timeout: 2s
            """);

        var trunks = GatewayOptions.Load(_directory.Path).Trunks;

        Assert.Equal((8, 16, 2, 4, TimeSpan.FromSeconds(2)), (trunks.MaxStreams, trunks.MaxStreamsPerUser, trunks.MaxPending, trunks.MaxPendingPerUser, trunks.IdleTimeout));
        var defaults = GatewayOptions.Load(WriteMinimal()).Trunks;
        Assert.Equal((256, 1024, 32, 64, TimeSpan.FromMinutes(10)), (defaults.MaxStreams, defaults.MaxStreamsPerUser, defaults.MaxPending, defaults.MaxPendingPerUser, defaults.IdleTimeout));
    }

    [Fact]
    public void ReportsBadTrunkSettingsWithFileLineAndField()
    {
        File.WriteAllText(ConfigPath, """
            listen: 127.0.0.1:7443
            trunks:
              max_streams: 0
              idle_timeout: 100ms
              max_pending: lots
              streams: 4
            """);

        var errors = Assert.Throws<ConfigException>(() => GatewayOptions.Load(_directory.Path)).Errors.OrderBy(e => e.Line).ToList();

        Assert.Equal(["trunks.max_streams", "trunks.idle_timeout", "trunks.max_pending", "trunks.streams"], errors.Select(e => e.Field));
        Assert.Equal([3, 4, 5, 6], errors.Select(e => e.Line));
        Assert.All(errors, e => Assert.Equal(ConfigPath, e.File));
        Assert.Contains("from 1s to 1d", errors[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReportsBadAccessSettingsWithFileLineColumnAndField()
    {
        File.WriteAllText(ConfigPath, """
            listen: 127.0.0.1:7443
            access:
              recheck_interval: 5h
              auth_failure_burst: 0
              auth_failure_interval: soon
              recheck: 1s
            """);

        var errors = Assert.Throws<ConfigException>(() => GatewayOptions.Load(_directory.Path)).Errors.OrderBy(e => e.Line).ToList();

        Assert.Equal(["access.recheck_interval", "access.auth_failure_burst", "access.auth_failure_interval", "access.recheck"], errors.Select(e => e.Field));
        Assert.Equal([3, 4, 5, 6], errors.Select(e => e.Line));
        Assert.All(errors, e => Assert.Equal(ConfigPath, e.File));
        // Values are reported where the value starts (after "  key: "), the unknown key where the key starts.
        Assert.Equal([21, 23, 26, 3], errors.Select(e => e.Column));
        Assert.Contains("from 100ms to 1m", errors[0].Message, StringComparison.Ordinal);
        Assert.Contains("from 1 to 100000", errors[1].Message, StringComparison.Ordinal);
        Assert.Contains("known: recheck_interval", errors[3].Message, StringComparison.Ordinal);
        Assert.Contains($"{ConfigPath}:3:", Assert.Throws<ConfigException>(() => GatewayOptions.Load(_directory.Path)).Message, StringComparison.Ordinal);
    }

    private string WriteMinimal()
    {
        var other = _directory.File("minimal");
        Directory.CreateDirectory(other);
        File.WriteAllText(Path.Combine(other, GatewayOptions.FileName), "listen: 127.0.0.1:7443\n");
        return other;
    }

    [Fact]
    public void AMissingFileSaysHowToCreateIt()
    {
        var exception = Assert.Throws<ConfigException>(() => GatewayOptions.Load(_directory.Path));

        Assert.Contains("jumpgate gateway init", exception.Message, StringComparison.Ordinal);
        Assert.Contains(ConfigPath, exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("::", false)]
    [InlineData("::1", false)]
    [InlineData("fe80::1", false)]
    [InlineData("[::]:443", true)]
    [InlineData("[::1]:7443", true)]
    [InlineData("0.0.0.0:443", true)]
    [InlineData("*:443", true)]
    [InlineData("localhost:7443", true)]
    [InlineData("127.0.0.1", false)]
    public void ListenAddressesNeedAnUnambiguousPort(string text, bool valid)
    {
        Assert.Equal(valid, GatewayOptions.TryParseEndpoint(text, out _));
    }

    [Fact]
    public void MetricsAreOffUnlessSetAndALoopbackListenerIsTakenAsItIs()
    {
        File.WriteAllText(ConfigPath, "listen: 127.0.0.1:7443\n");
        Assert.False(GatewayOptions.Load(_directory.Path).Metrics.Enabled);

        File.WriteAllText(ConfigPath, """
            listen: 127.0.0.1:7443
            metrics:
              listen: 127.0.0.1:9464
              token_file: metrics.token
            """);
        var metrics = GatewayOptions.Load(_directory.Path).Metrics;

        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 9464), metrics.Listen);
        Assert.Equal(_directory.File("metrics.token"), metrics.TokenFile);
    }

    [Fact]
    public void AMetricsListenerBeyondLoopbackIsRefusedUnlessMadePublicOnPurpose()
    {
        File.WriteAllText(ConfigPath, """
            listen: 127.0.0.1:7443
            metrics:
              listen: 0.0.0.0:9464
            """);

        var error = Assert.Single(Assert.Throws<ConfigException>(() => GatewayOptions.Load(_directory.Path)).Errors);
        Assert.Equal((3, "metrics.listen"), (error.Line, error.Field));
        Assert.Contains("0.0.0.0:9464 is not a loopback address", error.Message);
        Assert.Contains("`metrics.public: true`", error.Message);

        File.AppendAllText(ConfigPath, "\n  public: true\n");
        Assert.Equal(new IPEndPoint(IPAddress.Any, 9464), GatewayOptions.Load(_directory.Path).Metrics.Listen);
    }
}
