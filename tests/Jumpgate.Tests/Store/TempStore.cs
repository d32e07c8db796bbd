using Jumpgate.Gateway.Store;
using Jumpgate.Gateway.Store.Sqlite;
using Jumpgate.TestSupport;
using Microsoft.Data.Sqlite;

namespace Jumpgate.Tests.Store;

/// <summary>A fresh, migrated gateway store in a directory of its own, with the gateway's access cache over it; removed on dispose.</summary>
internal sealed class TempStore : IDisposable
{
    public TempStore(string prefix)
    {
        Directory = new TempDirectory(prefix);
        Path = Directory.File("gateway.db");
        Store = SqliteStore.Open(Path);
        Access = new AccessCache(Store.Tokens, Store.Rules, Store.Generation);
    }

    public TempDirectory Directory { get; }

    public string Path { get; }

    public GatewayStores Store { get; }

    /// <summary>What the gateway asks on every stream, answered through the store's generation.</summary>
    public AccessCache Access { get; }

    public void Dispose()
    {
        Store.Dispose();
        // Pooled connections keep the file open; let go of them before the directory goes.
        SqliteConnection.ClearAllPools();
        Directory.Dispose();
    }
}
