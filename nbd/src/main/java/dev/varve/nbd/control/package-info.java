/**
 * Live management of a store held by a running server. The server listens on
 * {@code control.sock} in the store directory (owner-only permissions); a command that finds
 * the store locked connects there with {@link dev.varve.nbd.control.ControlClient} instead.
 *
 * <p>One JSON object per line each way. Requests ({@code op} and its fields):
 * <pre>
 *   {"op":"ping"}                                   pid, port, socket of the server
 *   {"op":"info"}                                   StoreInfo, clients per export, server stats
 *   {"op":"list"}                                   volumes, snapshots, clients per export
 *   {"op":"create","volume":V,"size":N,"blockSize":B}
 *   {"op":"snapshot","volume":V,"snapshot":S,"properties":{...}}
 *   {"op":"snapshot","volumes":[V,...],"snapshot":G}            a group snapshot
 *   {"op":"revert","volume":V,"snapshot":S,"keepCurrent":K,"force":F}
 *   {"op":"revertGroup","group":G,"force":F}
 *   {"op":"clone","volume":V,"snapshot":S,"newVolume":N}
 *   {"op":"destroy","target":"V" or "V@S","recursive":R,"force":F}
 *   {"op":"gc","victimUtilization":U}              GcReport (U optional)
 *   {"op":"gcPause"} / {"op":"gcResume"}            the background collector; {"wasPaused":B}
 *   {"op":"space"}                                  [SpaceInfo]: referenced, exclusive bytes
 *   {"op":"spaceSummary"}                           SpaceSummary: live, garbage, reclaimable
 *   {"op":"device","device":"V" or "V@S"}           name, size, blockSize, readOnly
 *   {"op":"rename","target":"V" or "V@S","newName":N,"force":F}
 *   {"op":"properties","target":T}                  {key: value}
 *   {"op":"setProperties","target":T,"properties":{...},"unset":[K,...]}
 *   {"op":"resize","volume":V,"size":N,"force":F}  {"oldSize","size","clients"}
 *   {"op":"limit","maxSize":N}                      {"maxSize"} (N optional; 0: no limit)
 *   {"op":"receiveToken","volume":V} / {"op":"abortReceive","volume":V}
 * </pre>
 * and the requests that move bytes in binary frames between two lines (read, readAllocated,
 * diff, send out of the store; write, import, receive into it): see {@code Transfers} and
 * {@code Frames}.
 * Replies: {@code {"ok":true,"result":...}} or
 * {@code {"ok":false,"error":{"type":"NoSuchVolumeException","message":"..."}}}.
 *
 * <p>A revert, destroy, rename, shrink or write whose volume (or snapshot) has NBD clients is
 * refused with {@code VolumeBusyException} unless {@code force}: then new clients are kept off
 * the volume, the connected ones are disconnected and their requests in flight finish, and only
 * then does the store change (a rename changes first, then disconnects: the clients would keep
 * the old name). A receive is refused while clients use the volume, with no force. Growing a
 * volume leaves its clients connected with the size they were told.
 */
package dev.varve.nbd.control;
