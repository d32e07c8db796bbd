using System.Diagnostics;
using System.Net;
using Jumpgate.Gateway.Store;
using Xunit;

namespace Jumpgate.Tests.Store;

/// <summary>
/// The exposures table on each backend, as two gateways on one store see it (two stores opened on
/// one file or database): what one adds the other lists, and its generation moves, which is what
/// makes a running gateway open or close the port.
/// </summary>
public sealed class ExposureStoreTests
{
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void AnExposureAddedThroughOneGatewayIsListedOnAnotherAndMovesItsGeneration(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-exposures");
        var other = temp.OpenAnother();
        var before = other.Generation.Read();
        var exposure = new Exposure("node1-ssh", "node1", "ssh", 6022, [IPNetwork.Parse("203.0.113.0/24"), IPNetwork.Parse("10.1.2.3/32")], Now);

        temp.Store.Exposures.Add(exposure);

        var listed = Assert.Single(other.Exposures.List());
        Assert.Equal((exposure.Name, exposure.Host, exposure.Service, exposure.Port, exposure.Created), (listed.Name, listed.Host, listed.Service, listed.Port, listed.Created));
        Assert.Equal(exposure.Allow, listed.Allow);
        Assert.Equal("expose:node1-ssh", listed.User);
        Assert.True(Moved(other, before), "adding an exposure did not move the other gateway's generation");

        var added = other.Generation.Read();
        Assert.True(other.Exposures.Remove("node1-ssh"));
        Assert.Empty(temp.Store.Exposures.List());
        Assert.True(Moved(temp.Store, added), "removing an exposure did not move the generation");
    }

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void ANameOrAPortInUseIsRefusedInWordsAndRemovingNothingSaysSo(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-exposures");
        var exposures = temp.Store.Exposures;
        exposures.Add(new Exposure("node1-ssh", "node1", "ssh", 6022, [IPNetwork.Parse("0.0.0.0/0")], Now));

        var sameName = Assert.Throws<InvalidOperationException>(() => exposures.Add(new Exposure("node1-ssh", "node2", "ssh", 6023, [IPNetwork.Parse("0.0.0.0/0")], Now)));
        var samePort = Assert.Throws<InvalidOperationException>(() => exposures.Add(new Exposure("node2-ssh", "node2", "ssh", 6022, [IPNetwork.Parse("0.0.0.0/0")], Now)));

        Assert.Contains("exposed already", sameName.Message, StringComparison.Ordinal);
        Assert.Contains("port 6022 is taken by node1-ssh", samePort.Message, StringComparison.Ordinal);
        Assert.False(exposures.Remove("nothing-here"));
        Assert.Single(exposures.List());
    }

    [Fact]
    public void TheAllowListMatchesIPv4ClientsOnADualStackSocket()
    {
        var exposure = new Exposure("e", "node1", "ssh", 6022, [IPNetwork.Parse("127.0.0.1/32")], Now);

        Assert.True(exposure.Allows(IPAddress.Parse("127.0.0.1")));
        Assert.True(exposure.Allows(IPAddress.Parse("::ffff:127.0.0.1")));
        Assert.False(exposure.Allows(IPAddress.Parse("127.0.0.2")));
    }

    /// <summary>SQLite's generation moves at once; PostgreSQL's within its notification, so this waits for it with a deadline.</summary>
    private static bool Moved(GatewayStores store, long from)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (store.Generation.Read() != from)
            {
                return true;
            }
            Thread.Sleep(20);
        }
        return false;
    }
}
