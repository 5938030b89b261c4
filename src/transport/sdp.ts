/** SDP rewriting shared by the WebRTC adapters (browser-safe: no Node modules). */

/**
 * Makes the answerer the DTLS server: an offer's `a=setup:actpass` is read as `active`, so the
 * answer says `passive` and the offerer sends the ClientHello. The answerer nearly always finishes
 * ICE first; when it was the DTLS client its ClientHello could reach the offerer while the
 * offerer's DTLS transport was starting, get lost, and cost a 1 s retransmission in about one
 * link in five (measured on loopback with node-datachannel). Choosing `passive` in an answer is
 * allowed (RFC 5763).
 */
export function preferDtlsServer(offerSdp: string): string {
  return offerSdp.replace(/^a=setup:actpass(?=\r?$)/gm, 'a=setup:active');
}
