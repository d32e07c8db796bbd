using Jumpgate.Gateway.Store;
using Jumpgate.TestSupport;
using Microsoft.Data.Sqlite;

namespace Jumpgate.Tests.Store;

/// <summary>A fresh, initialised gateway store in a directory of its own, removed on dispose.</summary>
internal sealed class TempStore : IDisposable
{
    public TempStore(string prefix)
    {
        Directory = new TempDirectory(prefix);
        Store = new GatewayStore(Directory.File("gateway.db"));
        Store.Initialize();
    }

    public TempDirectory Directory { get; }

    public GatewayStore Store { get; }

    public void Dispose()
    {
        Store.Dispose();
        // Pooled connections keep the file open; let go of them before the directory goes.
        SqliteConnection.ClearAllPools();
        Directory.Dispose();
    }
}
