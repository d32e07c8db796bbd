using Jumpgate.Core.Naming;
using Jumpgate.Core.Security;

namespace Jumpgate.Gateway.Access;

/// <summary>An authenticated principal: who a token speaks for, and which token (its public id) it presented.</summary>
internal sealed record Principal(PrincipalKind Kind, string Name, HostPatterns? HostPatterns, string TokenId);
