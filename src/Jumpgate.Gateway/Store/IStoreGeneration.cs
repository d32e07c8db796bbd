namespace Jumpgate.Gateway.Store;

/// <summary>
/// The store's generation: a number that every write to principals, tokens, groups, rules, web
/// sessions or exposures moves, whichever process or gateway makes it. Every answer the gateway keeps from the
/// store is kept with the generation it was read at and used only while this still returns that
/// value (docs/decisions.md, "One rule for every cache of store data").
/// </summary>
internal interface IStoreGeneration
{
    /// <summary>
    /// The generation now: it must reflect every write this process has committed, and another
    /// process's writes within the backend's promise (SQLite: at once).
    /// </summary>
    long Read();
}
