"""A small program whose figures are counted by hand."""

from __future__ import annotations

CONFIG = """
program:
  id: figures
  name: Figures Program
  timezone: America/Chicago
  starts: 2027-01-04
  ends: 2027-06-25
  recognise_people: true
  outcomes:
    - {text: "Win rate from 22% to 30%", baseline: 22, target: 30, unit: "%",
       measured: {2027-01-20: 24, 2027-02-01: 25, 2027-03-01: 26}}
    - "Account plans for every top-5 account"
organizer: {name: Office, email: office@figures.example, calendar: {provider: local}, send: {provider: file},
            receive: {provider: maildir}}
people:
  - {id: sam,  name: Sam Sponsor,  email: sam@figures.example,  timezone: America/New_York}
  - {id: cora, name: Cora Coach,   email: cora@figures.example, timezone: America/Chicago}
  - {id: ann,  name: Ann Avery,    email: ann@figures.example,  timezone: America/Chicago}
  - {id: bob,  name: Bob Brandt,   email: bob@figures.example,  timezone: America/Chicago}
  - {id: cy,   name: Cy Castro,    email: cy@figures.example,   timezone: America/Chicago}
sponsors: [sam]
teams:
  - {id: core, name: Core Team, coach: cora, members: [ann, bob, cy]}
sessions:
  group:          {every: 1w, length: 60m}
  individual:     {every: 2w, length: 30m}
  kickoff:        {length: 90m}
  wrapup:         {length: 90m}
  sponsor_review: {every: 13w, length: 60m}
digest: {every: 4w, to: [sam], coaching_target: 10%}
"""
